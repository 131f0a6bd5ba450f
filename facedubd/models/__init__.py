"""The learned models: manifest, fetch + sha256 verify, TFLite to ONNX conversion, sessions."""

from __future__ import annotations

from facedubd.models.fetch import (
    asset_path,
    ensure_assets,
    ensure_models,
    list_models,
    model_path,
    verify_models,
)
from facedubd.models.mesh import mesh_triangles

__all__ = [
    "asset_path",
    "ensure_assets",
    "ensure_models",
    "list_models",
    "mesh_triangles",
    "model_path",
    "verify_models",
]
