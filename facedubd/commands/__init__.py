"""One module per `facedubd` command or command group."""
