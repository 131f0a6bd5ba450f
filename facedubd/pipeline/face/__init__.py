"""Face analysis on MediaPipe's face models run in onnxruntime.

Detection (`detect_faces`), the dense 468-point mesh (`run_mesh`), tracking from the
previous frame's mesh (`FaceTracker`) and named landmarks with head pose and expression
measures (`facedubd.pipeline.face.landmarks`).
"""

from facedubd.pipeline.face import landmarks
from facedubd.pipeline.face.detect import Detection, detect_faces
from facedubd.pipeline.face.loader import FaceModels, load_face_models
from facedubd.pipeline.face.mesh import Mesh, Roi, roi_from_detection, roi_from_points, run_mesh
from facedubd.pipeline.face.track import FaceTracker, confirmed_mesh

__all__ = [
    "Detection",
    "FaceModels",
    "FaceTracker",
    "Mesh",
    "Roi",
    "confirmed_mesh",
    "detect_faces",
    "landmarks",
    "load_face_models",
    "roi_from_detection",
    "roi_from_points",
    "run_mesh",
]
