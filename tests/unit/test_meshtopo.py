"""Mesh topology: boundary loops, closing holes with zipper strips, lid/lip pairs."""

from __future__ import annotations

import numpy as np
import pytest

from facedubd.pipeline import geometry
from facedubd.pipeline.meshtopo import Hole, boundary_loops, build_topology, split_hole


def _ring_mesh(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A disc with three holes (two "eyes" above one "mouth"), triangulated."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    big = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    outline = np.stack([50 + 45 * np.cos(big), 50 + 45 * np.sin(big)], axis=1)
    holes = []
    for cx, cy, rx, ry in ((32, 40, 8, 4), (68, 40, 8, 4), (50, 72, 12, 5)):
        holes.append(np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1))
    pts = np.concatenate([outline, *holes])
    tri = geometry.delaunay(pts)
    # Drop the triangles inside each hole (all three corners on the same hole).
    keep = np.ones(len(tri), bool)
    for h in range(3):
        ids = np.arange(2 * n + n * h, 2 * n + n * (h + 1))
        keep &= ~np.isin(tri, ids).all(axis=1)
    return pts, tri[keep]


def test_boundary_loops_find_the_outline_and_the_holes() -> None:
    _, tri = _ring_mesh()
    loops = boundary_loops(tri)
    assert [len(loop) for loop in loops] == [24, 12, 12, 12]
    expected = [set(range(24)), set(range(24, 36)), set(range(36, 48)), set(range(48, 60))]
    assert sorted(map(sorted, map(set, loops))) == sorted(map(sorted, expected))


def test_topology_closes_holes_and_faces_the_camera() -> None:
    pts, tri = _ring_mesh()
    topo = build_topology(tri, pts)
    assert (geometry.signed_areas(pts, topo.triangles) > 0).all()
    assert (
        boundary_loops(topo.triangles) == [list(topo.outline)]
        or len(boundary_loops(topo.triangles)) == 1
    )
    # Eyes sorted by x, the mouth below them.
    assert pts[list(topo.right_eye.loop), 0].mean() < pts[list(topo.left_eye.loop), 0].mean()
    assert pts[list(topo.mouth.loop), 1].mean() > pts[list(topo.right_eye.loop), 1].mean()
    hull = geometry.signed_areas(pts, topo.triangles).sum() / 2
    assert hull == pytest.approx(24 / 2 * 45**2 * np.sin(2 * np.pi / 24), rel=1e-6)


def test_hole_pairs_face_each_other() -> None:
    t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    pts = np.stack([10 * np.cos(t), 4 * np.sin(t)], axis=1)
    hole = split_hole(list(range(10)), pts)
    assert isinstance(hole, Hole)
    assert hole.upper[0] == hole.lower[0] and hole.upper[-1] == hole.lower[-1]
    assert pts[list(hole.upper[1:-1]), 1].mean() < pts[list(hole.lower[1:-1]), 1].mean()
    for up, lo in hole.pairs():
        assert abs(pts[up, 0] - pts[lo, 0]) < 1e-6  # same x: straight across
    assert hole.pair_array.shape == (4, 2)
    assert len(hole.triangles()) == 8  # a strip over 10 points closes with n - 2
