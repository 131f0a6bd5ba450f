"""facedubd: the FaceDub daemon, its job store, worker and face pipeline."""

__version__ = "0.1.0"
