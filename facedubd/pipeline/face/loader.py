"""Load the three face models as onnxruntime sessions, once, and say where they run."""

from __future__ import annotations

import dataclasses

from facedubd.pipeline.face.anchors import FULL_RANGE, SHORT_RANGE
from facedubd.pipeline.face.session import Session

MESH_MODEL = "face_landmark"
FACE_MODEL_NAMES: tuple[str, ...] = (SHORT_RANGE.name, FULL_RANGE.name, MESH_MODEL)


@dataclasses.dataclass(frozen=True)
class FaceModels:
    """The detector sessions (short and full range), the mesh session, and the
    onnxruntime execution provider that really runs them."""

    short: Session
    full: Session
    mesh: Session
    provider: str


def load_face_models(device: str = "auto", threads: int = 1) -> FaceModels:
    """Fetch and convert the models if needed (shared cache), then open one session each
    (on the tuned copies of `facedubd.models.tune` where a rewrite applies)."""
    from facedubd.models import ensure_models
    from facedubd.models.sessions import create_session
    from facedubd.models.tune import tuned_model_path

    paths = ensure_models(list(FACE_MODEL_NAMES))
    # The mesh runs on every frame: its tuned copy (a third cheaper on the CPU).
    short = create_session(tuned_model_path(paths[SHORT_RANGE.name]), device, threads)
    full = create_session(paths[FULL_RANGE.name], device=device, threads=threads)
    mesh = create_session(tuned_model_path(paths[MESH_MODEL]), device, threads)
    return FaceModels(short, full, mesh, provider=short.get_providers()[0])
