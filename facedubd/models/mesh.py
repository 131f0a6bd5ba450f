"""The 468-point face mesh triangulation, read from MediaPipe's pinned connections file.

`FACEMESH_TESSELATION` there is written as one edge triple (a, b), (b, c), (c, a) per
triangle; the file is parsed (never imported) and the triples are checked."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import numpy as np
import numpy.typing as npt

from facedubd.errors import ModelError

MESH_POINTS = 468
TESSELATION_NAME = "FACEMESH_TESSELATION"


def _edge_list(source: str) -> list[tuple[int, int]]:
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        if not any(isinstance(t, ast.Name) and t.id == TESSELATION_NAME for t in node.targets):
            continue
        literal = node.value.args[0] if node.value.args else None
        if isinstance(literal, ast.List | ast.Tuple | ast.Set):
            return [_pair(e) for e in literal.elts]
    raise ModelError(f"the face mesh connections file has no {TESSELATION_NAME} list")


def _pair(node: ast.expr) -> tuple[int, int]:
    """An (a, b) edge: read straight off two integer constants (2,556 of them: several
    times faster than ast.literal_eval), anything else through literal_eval."""
    if isinstance(node, ast.Tuple) and len(node.elts) == 2:
        values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
        ints = [v for v in values if type(v) is int]
        if len(ints) == 2:
            return (ints[0], ints[1])
    return tuple(ast.literal_eval(node))


def triangles_from_edges(edges: list[tuple[int, int]]) -> npt.NDArray[np.int32]:
    """Group consecutive edges (a, b), (b, c), (c, a) into triangles (a, b, c)."""
    if len(edges) % 3:
        raise ModelError(f"{len(edges)} tessellation edges do not form whole triangles")
    triangles = []
    for i in range(0, len(edges), 3):
        (a, b), (b2, c), (c2, a2) = edges[i : i + 3]
        if (b, c, a) != (b2, c2, a2):
            raise ModelError(f"tessellation edges {i}..{i + 2} do not close a triangle")
        triangles.append((a, b, c))
    return np.asarray(triangles, dtype=np.int32)


@functools.cache
def _triangles_of(path: Path) -> npt.NDArray[np.int32]:
    triangles = triangles_from_edges(_edge_list(path.read_text()))
    if triangles.min() < 0 or triangles.max() >= MESH_POINTS:
        raise ModelError("tessellation indices fall outside the 468-point mesh")
    triangles.setflags(write=False)
    return triangles


def mesh_triangles(path: Path | None = None) -> npt.NDArray[np.int32]:
    """The mesh's triangles, shape (852, 3), vertex indices into the 468 mesh points
    (read-only). `path` defaults to the cached `face_mesh_connections` asset."""
    if path is None:
        from facedubd.models.fetch import asset_path

        path = asset_path("face_mesh_connections")
    return _triangles_of(path)
