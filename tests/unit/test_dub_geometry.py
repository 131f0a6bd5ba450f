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


def test_eye_ratio_stretches_a_closing_eye_but_not_an_opening_one() -> None:
    # Below the keyframe's opening: BLINK_FLOOR of it shuts the eye, half way is half.
    assert dub.eye_ratio(dub.BLINK_FLOOR) == pytest.approx(0.0)
    assert dub.eye_ratio((1 + dub.BLINK_FLOOR) / 2) == pytest.approx(0.5)
    assert dub.eye_ratio(0.2) == pytest.approx(0.0)
    # At and above it the reference's ratio is kept (it used to be stretched: 1.16 -> 1.36).
    assert dub.eye_ratio([1.0, 1.16]) == pytest.approx([1.0, 1.16])
    assert dub.eye_ratio(2.0) == pytest.approx(dub.MAX_EYE_RATIO)


def test_map_step_keeps_a_big_face_s_maps_at_about_the_same_resolution() -> None:
    assert dub.map_step((0, 0, 80, 90), 50.0) == 1  # small faces: full resolution
    assert dub.map_step((0, 0, 200, 240), 140.0) == 2
    assert dub.map_step((0, 0, 300, 360), 220.0) == 3
    assert dub.map_step((0, 0, 390, 990), 530.0) == dub.MAX_MAP_STEP
    # A face cut by the frame edge keeps the step of its size, not of its box.
    assert dub.map_step((0, 0, 120, 900), 530.0) == dub.MAX_MAP_STEP


def _lips_face() -> np.ndarray:
    """A face whose outer and inner lip loops are ellipses around (0, 0.5): the mouth
    0.5 wide, each lip 0.06 thick at its middle, the lips 0.02 apart."""
    pts = _face(np.random.default_rng(3))
    t = np.linspace(np.pi, -np.pi, len(lm.OUTER_LIP), endpoint=False)  # right corner first
    for loop, half_height in ((lm.OUTER_LIP, 0.07), (lm.INNER_LIP, 0.01)):
        pts[list(loop)] = np.stack(
            [0.25 * np.cos(t), 0.5 - half_height * np.sin(t), np.zeros_like(t)], axis=1
        )
    return pts


def test_lip_thickness_is_per_mouth_width() -> None:
    face = _lips_face()
    thick = dub.lip_thickness(face)
    assert 0.06 * 0.6 / 0.5 < thick < 0.06 / 0.5  # a loop's mean is below its middle
    doubled = face.copy()
    doubled[:, 1] *= 2.0
    assert dub.lip_thickness(doubled) == pytest.approx(2 * thick)


def test_lip_spread_moves_lip_vertices_exactly_and_fades_into_the_skin() -> None:
    face = _lips_face()
    lips = np.array(lm.OUTER_LIP + lm.INNER_LIP)
    triangles = lips[: len(lips) // 3 * 3].reshape(-1, 3).astype(np.int32)
    index, spread = dub.lip_spread(face, triangles)
    np.testing.assert_array_equal(index, np.unique(triangles))
    np.testing.assert_allclose(spread[index], np.eye(len(index)))
    # A point well away from the lips takes none of their move; one beside them some.
    move = spread @ np.ones((len(index), 3))
    far = int(np.argmax(np.linalg.norm(face[:, :2] - [0.0, 0.5], axis=1)))
    assert abs(move[far, 0]) < 1e-6
    assert 0.05 < move[lm.NOSE_TIP, 0] < 1.0  # 0.35 above the mouth's centre


def test_reference_lips_take_the_reference_shape_at_the_targets_corners() -> None:
    target = _lips_face()
    ref = target.copy()
    ref[list(lm.OUTER_LIP + lm.INNER_LIP), 1] = 0.5 + 2.0 * (
        target[list(lm.OUTER_LIP + lm.INNER_LIP), 1] - 0.5
    )  # the reference's lips twice as thick (and twice as far apart)
    triangles = np.array(lm.OUTER_LIP + lm.INNER_LIP)[:39].reshape(-1, 3).astype(np.int32)
    lips = dub.lip_spread(target, triangles)
    out = dub._reference_lips(target, ref, lips, 0.5)  # the character's lips: half as thick
    corners = [lm.MOUTH_RIGHT, lm.MOUTH_LEFT]
    np.testing.assert_allclose(out[corners], target[corners], atol=1e-9)
    # Twice as thick in the reference, half of that kept: the target's own thickness.
    assert dub.lip_thickness(out) == pytest.approx(dub.lip_thickness(target), rel=1e-6)
    assert lm.mouth_opening(out) == pytest.approx(lm.mouth_opening(target), rel=1e-6)


def test_jaw_weights_move_the_chin_and_fade_to_the_sides() -> None:
    face = _lips_face()
    hole = split_hole(list(lm.INNER_LIP), face)
    jaw = dub.jaw_weights(face, hole)
    assert jaw[lm.CHIN] > 0.99  # straight below the mouth
    side = int(np.argmax(np.abs(face[:, 0])))  # about 0.6 to the side
    centre = float(face[list(lm.INNER_LIP), 0].mean())
    expected = np.exp(-(((face[side, 0] - centre) / dub.JAW_SIDE_REACH) ** 2))
    assert jaw[side] == pytest.approx(expected)
    assert jaw[side] < 0.4


def test_closing_a_mouth_with_the_jaw_lifts_the_chin() -> None:
    face = _lips_face()
    hole = split_hole(list(lm.INNER_LIP), face)
    closed = np.zeros(len(hole.pairs()))
    without = dub.set_opening(face, hole, closed, upper_share=0.3, reach=0.45)
    with_jaw = dub.set_opening(
        face, hole, closed, upper_share=0.3, reach=0.45, jaw=dub.jaw_weights(face, hole)
    )
    before = face[hole.pair_array[:, 1], 1] - face[hole.pair_array[:, 0], 1]
    gaps = with_jaw[hole.pair_array[:, 1], 1] - with_jaw[hole.pair_array[:, 0], 1]
    np.testing.assert_allclose(gaps, 0.0, atol=1e-9)
    lower_lip_move = float((with_jaw - face)[hole.pair_array[:, 1], 1].mean())
    assert lower_lip_move < 0  # the lower lip went up
    # The chin (0.5 below the mouth) follows the lower lip with the jaw, hardly without.
    # (the lower side takes 1 - upper_share of the mean change)
    assert (with_jaw - face)[lm.CHIN, 1] == pytest.approx(-0.7 * before.mean(), abs=1e-9)
    assert abs((without - face)[lm.CHIN, 1]) < 0.3 * abs((with_jaw - face)[lm.CHIN, 1])


def test_lips_fade_in_inside_their_outline() -> None:
    face = np.zeros((40, 60, 3), np.uint8)
    covered = np.zeros((20, 40), bool)
    covered[4:16, 4:36] = True
    lips = geometry.Warped(np.full((20, 40, 3), 200, np.uint8), covered, (10, 10))
    out = dub._lay_mouth(face.copy(), lips, (0, 0), 1.0, feather=4.0)
    assert out[20, 30].tolist() == [200, 200, 200]  # deep inside: the lips
    column = out[14:21, 30, 0].astype(int)  # from the outline's inner row inwards
    assert column[0] < 0.3 * 200
    assert (np.diff(column) >= 0).all()
    assert out[10:30, 10:50][~covered].max() == 0  # nothing outside the outline
    shut = dub._lay_mouth(face.copy(), lips, (0, 0), 0.0, feather=4.0)
    assert shut.max() == 0  # a closed mouth lays nothing (the lips' callers pass 1.0)


def test_a_view_shows_the_photo_not_what_lies_beyond_it() -> None:
    # Room all round: the face stays in the middle.
    centre, half = dub.view_window([200.0, 200.0], 100.0, (400, 400, 3))
    assert (centre.tolist(), half) == ([200.0, 200.0], 100.0)
    # The photo ends 60 px above the face: the window moves down, keeping its size.
    centre, half = dub.view_window([200.0, 60.0], 100.0, (400, 400, 3))
    assert (centre.tolist(), half) == ([200.0, 100.0], 100.0)
    # A crop narrower than the window: the window shrinks to it.
    centre, half = dub.view_window([90.0, 200.0], 100.0, (400, 150, 3))
    assert (centre.tolist(), half) == ([75.0, 200.0], 75.0)
