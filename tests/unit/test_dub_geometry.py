"""The dub's pure steps on synthetic arrays: the pose-free frame, opening an eye or a
mouth to a wanted gap, the ring that anchors the frame reshape, how shut an eye
counts, and which points count as rigid."""

from __future__ import annotations

import numpy as np
import pytest

from facedubd.pipeline import dub, geometry
from facedubd.pipeline.face import landmarks as lm
from facedubd.pipeline.meshtopo import split_hole


def _face(rng: np.random.Generator) -> np.ndarray:
    """468 points with the named landmarks where a frontal face has them (unit: eye distance)."""
    pts = rng.uniform(-0.6, 0.6, size=(468, 3)) * [1.0, 1.3, 0.3]
    named = {
        lm.RIGHT_EYE_OUTER: (-0.5, -0.2, 0.1), lm.RIGHT_EYE_INNER: (-0.15, -0.2, 0.05),
        lm.LEFT_EYE_INNER: (0.15, -0.2, 0.05), lm.LEFT_EYE_OUTER: (0.5, -0.2, 0.1),
        lm.NOSE_TIP: (0.0, 0.15, -0.2), lm.MOUTH_RIGHT: (-0.25, 0.5, 0.05),
        lm.MOUTH_LEFT: (0.25, 0.5, 0.05), lm.FOREHEAD_TOP: (0.0, -0.9, 0.1),
        lm.CHIN: (0.0, 1.0, 0.05),
    }  # fmt: skip
    for i, p in named.items():
        pts[i] = p
    return pts


def test_pose_free_shape_does_not_depend_on_pose_scale_or_place() -> None:
    rng = np.random.default_rng(0)
    face = _face(rng)
    rotation = lm.rotation_from_angles(20, -10, 8)
    seen = 90.0 * face @ rotation.T + [320, 180, 0]
    free_a = dub.canonical_frame(face).invert(face)
    free_b = dub.canonical_frame(seen).invert(seen)
    np.testing.assert_allclose(free_a, free_b, atol=1e-9)
    eyes = np.linalg.norm(free_b[lm.LEFT_EYE_OUTER] - free_b[lm.RIGHT_EYE_OUTER])
    assert eyes == pytest.approx(1.0)


def _eye() -> tuple[np.ndarray, list[int]]:
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    loop = np.stack([0.3 * np.cos(t), 0.1 * np.sin(t), np.zeros_like(t)], axis=1)
    far = np.array([[0.0, -1.0, 0.0], [0.0, 1.5, 0.0], [2.0, 0.0, 0.0]])
    return np.concatenate([loop, far]), list(range(12))


def test_set_opening_reaches_the_wanted_gap_and_leaves_far_points_alone() -> None:
    pts, loop = _eye()
    hole = split_hole(loop, pts)
    wanted = np.full(len(hole.pairs()), 0.02)
    out = dub.set_opening(pts, hole, wanted, upper_share=0.85, reach=0.2)
    gaps = out[hole.pair_array[:, 1], 1] - out[hole.pair_array[:, 0], 1]
    np.testing.assert_allclose(gaps, 0.02, atol=1e-9)
    np.testing.assert_allclose(out[12:], pts[12:], atol=1e-3)  # far skin hardly moves
    # The upper lid did most of the closing.
    up_moved = np.abs(out[hole.pair_array[:, 0], 1] - pts[hole.pair_array[:, 0], 1]).mean()
    lo_moved = np.abs(out[hole.pair_array[:, 1], 1] - pts[hole.pair_array[:, 1], 1]).mean()
    assert up_moved > 4 * lo_moved
    assert np.array_equal(out[:, [0, 2]], pts[:, [0, 2]])  # only vertical moves


def test_rigid_points_are_above_the_nose_and_away_from_the_eyes() -> None:
    rng = np.random.default_rng(1)
    free = dub.canonical_frame(_face(rng)).invert(_face(np.random.default_rng(1)))
    rigid = dub.rigid_points(free)
    assert len(rigid) >= 20
    assert (free[rigid, 1] <= free[lm.NOSE_TIP, 1] + 0.02).all()
    assert lm.MOUTH_LEFT not in rigid and lm.RIGHT_EYE_OUTER not in rigid


def test_robust_pose_ignores_a_few_moving_points() -> None:
    rng = np.random.default_rng(2)
    src = rng.normal(size=(120, 3))
    truth = geometry.Similarity(1.3, lm.rotation_from_angles(10, 5, -3), np.array([5.0, 2, 0]))
    dst = truth.apply(src)
    dst[:12] += rng.normal(scale=2.0, size=(12, 3))  # an expression: a few points move
    fit = dub.robust_pose(src, dst)
    assert fit.scale == pytest.approx(1.3, rel=0.02)
    np.testing.assert_allclose(fit.rotation, truth.rotation, atol=0.02)


def _ring(n: int, radius: float, centre: tuple[float, float] = (100.0, 80.0)) -> np.ndarray:
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xy = np.column_stack([np.cos(angle), np.sin(angle)]) * radius + centre
    return np.column_stack([xy, np.zeros(n)])


def test_reshape_anchors_sit_on_the_grown_hull_and_the_target_stays_inside() -> None:
    ref = _ring(24, 40.0)
    outline = tuple(range(24))
    wide = _ring(24, 60.0)  # a character face far wider than the reference's
    anchors, fitted = dub.reshape_ring(ref, wide, outline)
    radius = np.linalg.norm(anchors[:, :2] - [100.0, 80.0], axis=1)
    # On the polygon of the hull grown by RESHAPE_HULL: between its inner and outer radius.
    grown = 40.0 * dub.RESHAPE_HULL
    assert (radius <= grown + 1e-4).all()
    assert (radius >= grown * np.cos(np.pi / 24) - 1e-4).all()
    kept = np.linalg.norm(fitted[:, :2] - [100.0, 80.0], axis=1)
    assert (kept <= radius * dub.RESHAPE_REACH + 1e-6).all()
    assert (anchors[:, 2] > fitted[:, 2].max()).all()  # drawn behind the face
    narrow = _ring(24, 30.0)
    _, same = dub.reshape_ring(ref, narrow, outline)
    np.testing.assert_allclose(same, narrow)  # a target inside its anchors is not moved


def test_ring_triangles_close_a_strip_between_outline_and_anchors() -> None:
    tri = dub.ring_triangles(10, (0, 1, 2, 3))
    assert tri.shape == (8, 3)
    edges = {tuple(sorted(e)) for t in tri.tolist() for e in ((t[0], t[1]), (t[1], t[2]))}
    assert (0, 1) in edges and (0, 3) in edges and (10, 11) in edges and (10, 13) in edges


def test_blink_strength_rises_as_the_eye_shuts() -> None:
    assert dub.blink_strength(0.3, 0.3) == 0.0
    assert dub.blink_strength(0.3 * dub.BLINK_SHOW_FULL, 0.3) == pytest.approx(1.0)
    assert dub.blink_strength(0.0, 0.3) == 1.0
    middle = 0.3 * (dub.BLINK_SHOW_FROM + dub.BLINK_SHOW_FULL) / 2
    assert dub.blink_strength(middle, 0.3) == pytest.approx(0.5)


def test_map_step_keeps_a_big_face_s_maps_at_about_the_same_resolution() -> None:
    assert dub.map_step((0, 0, 80, 90), 50.0) == 1  # small faces: full resolution
    assert dub.map_step((0, 0, 200, 240), 140.0) == 2
    assert dub.map_step((0, 0, 300, 360), 220.0) == 3
    assert dub.map_step((0, 0, 390, 990), 530.0) == dub.MAX_MAP_STEP
    # A face cut by the frame edge keeps the step of its size, not of its box.
    assert dub.map_step((0, 0, 120, 900), 530.0) == dub.MAX_MAP_STEP
