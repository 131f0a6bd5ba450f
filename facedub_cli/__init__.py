"""facedub: the command-line client for the FaceDub API (hosted or a local facedubd)."""

__version__ = "0.1.0"
