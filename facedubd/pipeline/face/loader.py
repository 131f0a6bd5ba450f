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
    from facedubd.models.tune import tuned_copy

    paths = ensure_models(list(FACE_MODEL_NAMES))
    # Tuned copies (the mesh is a third cheaper a call), opened from onnxruntime's own
    # optimised graph saved in the cache (half the cost of opening a session).
    short, full, mesh = (
        create_session(tuned_copy(name, paths[name]), device, threads, reuse_optimized=True)
        for name in FACE_MODEL_NAMES
    )
    return FaceModels(short, full, mesh, provider=short.get_providers()[0])
