"""The `facedubd` command groups."""
