"""Gaze transfer's pure parts: the eye's corner frame, the iris crop, and the eye
redrawn on a synthetic eye (facedubd.pipeline.face.iris, facedubd.pipeline.gaze)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facedubd.pipeline import gaze as G
from facedubd.pipeline.face import iris as I
from facedubd.pipeline.face.mesh import crop_to_image

SKIN, SCLERA, IRIS = (200, 150, 120), (235, 230, 225), (60, 40, 30)


def test_corner_frame_round_trip_on_a_rolled_eye() -> None:
    left, right = np.array([100.0, 50.0]), np.array([130.0, 60.0])
    xy = I.to_eye((118.0, 57.0), left, right)
    assert I.from_eye(xy, left, right) == pytest.approx([118.0, 57.0])
    # The midpoint is the origin; a point below the corner line (y down) has y > 0.
    assert I.to_eye((115.0, 55.0), left, right) == pytest.approx([0.0, 0.0])
    width = math.hypot(30.0, 10.0)
    down = np.array([-10.0, 30.0]) / width  # along (30, 10) turned a quarter clockwise
    assert I.to_eye(np.array([115.0, 55.0]) + 0.1 * width * down, left, right) == pytest.approx(
        [0.0, 0.1]
    )


def test_eye_gaze_is_in_corner_distances() -> None:
    left, right = (10.0, 20.0), (50.0, 20.0)  # 40 px apart
    ring = [(48.0, 24.0), (40.0, 16.0), (32.0, 24.0), (40.0, 32.0)]
    iris = np.array([(40.0, 24.0), *ring])  # centre 10 px right, 4 px down; radius 8
    gaze = I.eye_gaze(iris, left, right)
    assert (gaze.x, gaze.y, gaze.radius) == pytest.approx((0.25, 0.1, 0.2))


def test_eye_roi_is_level_with_the_corners_and_mirroring_is_undone() -> None:
    roi = I.eye_roi((100.0, 100.0), (100.0, 140.0))  # a corner line pointing down
    assert (roi.cx, roi.cy, roi.size) == pytest.approx((100.0, 120.0, 40.0 * I.IRIS_CROP_SCALE))
    assert roi.rotation == pytest.approx(math.pi / 2)
    matrix = crop_to_image(roi, I.IRIS_INPUT)
    # The crop's x axis runs along the corner line.
    assert matrix[:, 0] == pytest.approx([0.0, roi.size / I.IRIS_INPUT])
    points = np.array([[10.0, 5.0, 1.0], [60.0, 30.0, 2.0]])
    back = I.mirror_crop_points(I.mirror_crop_points(points))
    assert back == pytest.approx(points)
    assert I.mirror_crop_points(points)[:, 0] == pytest.approx([54.0, 4.0])


def test_attach_gaze_keeps_hands_and_replaces_gaze() -> None:
    from facedubd.pipeline.face.hands import FaceWithHands
    from facedubd.pipeline.face.mesh import Roi

    hand = np.ones((21, 3), np.float32)
    face = FaceWithHands(np.zeros((468, 3), np.float32), 0.9, Roi(0, 0, 1, 0), hands=(hand,))
    seen = (I.EyeGaze(0.1, 0.0, 0.2), None)
    with_gaze = I.attach_gaze(face, seen)
    assert with_gaze.hands == (hand,) and I.gaze_of(with_gaze) == seen
    assert I.gaze_of(I.attach_gaze(with_gaze, None)) is None
    assert I.gaze_of(face) is None and I.gaze_of(np.zeros((468, 3))) is None


def _synthetic_eye(iris_x: float) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """A 60x100 picture of an eye: an almond opening (corners at x 20 and 80, y 30), white
    sclera and a dark iris of radius 7 centred at (iris_x, 30)."""
    image = np.full((60, 100, 3), SKIN, np.uint8)
    xs = np.linspace(20, 80, 16)
    upper = np.stack([xs, 30 - 12 * np.sin(np.pi * (xs - 20) / 60)], axis=1)
    lower = np.stack([xs[::-1], 30 + 10 * np.sin(np.pi * (xs[::-1] - 20) / 60)], axis=1)
    loop = np.concatenate([upper, lower[1:-1]])
    opening = np.zeros((60, 100), np.uint8)
    cv2.fillPoly(opening, [np.round(loop * 16).astype(np.int32)], 255, cv2.LINE_8, 4)
    image[opening > 0] = SCLERA
    iris = G.disc((60, 100), (iris_x, 30.0), 7.0) > 0.5
    image[iris & (opening > 0)] = IRIS
    return image, loop, (np.array([20.0, 30.0]), np.array([80.0, 30.0]))


def test_fill_iris_leaves_sclera_and_lids_alone() -> None:
    image, loop, _ = _synthetic_eye(50.0)
    opening = np.zeros((60, 100), np.uint8)
    cv2.fillPoly(opening, [np.round(loop * 16).astype(np.int32)], 255, cv2.LINE_8, 4)
    lifted = G.disc((60, 100), (50.0, 30.0), 7.0 * G.LIFT_RADIUS) > 0
    filled = G.fill_iris(image, lifted, opening > 0)
    assert np.array_equal(filled[~lifted], image[~lifted])  # only the disc changes
    inside = lifted & (opening > 0)
    assert np.abs(filled[inside].astype(int) - SCLERA).max() == 0  # all sclera now


def _moved(iris_x: float, wanted: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    image, loop, (left, right) = _synthetic_eye(iris_x)
    mesh = np.zeros((4, 3))
    mesh[0, :2], mesh[1, :2] = left, right
    photo = I.eye_gaze(np.array([(iris_x, 30.0), (iris_x + 7, 30.0), (iris_x, 23.0),
                                 (iris_x - 7, 30.0), (iris_x, 37.0)]), left, right)  # fmt: skip
    loop_index = np.arange(4, 4 + len(loop))
    mesh = np.vstack([mesh, np.hstack([loop, np.zeros((len(loop), 1))])])
    loops, corners = (loop_index, loop_index), ((0, 1), (0, 1))
    # Both eyes or neither: one eye moving alone would squint.
    assert G.photo_eyes(image, mesh, loops, corners, (photo, None)) is None
    eyes = G.photo_eyes(image, mesh, loops, corners, (photo, photo))
    assert eyes is not None and eyes.irises[0] is not None
    patch = eyes.irises[0]
    out = image.copy()
    xy = G.clamp_gaze(wanted, photo.radius)
    placement = G.iris_placement(patch, (left, right), (left, right), xy)
    lids = np.zeros((60, 100), np.uint8)
    cv2.fillPoly(lids, [np.round(loop * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    G.draw_eye(out, eyes.sclera, patch, placement, lids, G.move_strength(photo, xy))
    return image, out


def _dark_centre(image: np.ndarray) -> np.ndarray:
    dark = image.astype(int).sum(axis=2) < 300
    ys, xs = np.nonzero(dark)
    return np.array([xs.mean(), ys.mean()])


def test_the_iris_moves_to_the_wanted_place_inside_the_lids() -> None:
    image, out = _moved(50.0, (-0.2, 0.05))  # 12 px left, 3 px down
    assert _dark_centre(out) == pytest.approx([38.0, 33.0], abs=0.6)
    # Outside the lid opening (skin) nothing changes; where the iris was is sclera.
    opening = np.zeros((60, 100), np.uint8)
    _, loop, _ = _synthetic_eye(50.0)
    cv2.fillPoly(opening, [np.round(loop * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    assert np.array_equal(out[opening == 0], image[opening == 0])
    assert np.abs(out[30, 52].astype(int) - SCLERA).max() <= 2


def test_the_iris_is_clipped_by_the_lids() -> None:
    # 0.15 corner distances down (9 px): the disc (radius 7) reaches past the lower lid
    # (y 40) and is cut there: no iris pixel below it.
    image, out = _moved(50.0, (0.0, 0.15))
    below = np.zeros((60, 100), bool)
    below[42:, :] = True  # the lower lid reaches y 40 (anti-aliased: 41)
    assert np.array_equal(out[below], image[below])
    assert (out.astype(int).sum(axis=2) < 300).sum() > 20  # some iris still shows
    assert G.clamp_gaze((0.9, 0.6), 0.2) == pytest.approx([G.MAX_ALONG - 0.12, G.MAX_ACROSS])


def test_a_matching_gaze_changes_nothing() -> None:
    image, out = _moved(50.0, (0.0, 0.0))
    assert np.array_equal(out, image)
    photo = I.EyeGaze(0.0, 0.0, 0.1)
    assert G.move_strength(photo, (G.MOVE_FROM * 0.9, 0.0)) == 0.0
    assert G.move_strength(photo, (0.0, G.MOVE_FULL)) == 1.0
    assert 0.0 < G.move_strength(photo, (0.0, (G.MOVE_FROM + G.MOVE_FULL) / 2)) < 1.0


def test_iris_placement_scales_and_turns_with_the_corners() -> None:
    patch = G.IrisPatch(np.zeros((9, 9, 4), np.float32), (4.0, 4.0), 3.0)
    photo = (np.array([0.0, 0.0]), np.array([20.0, 0.0]))
    target = (np.array([100.0, 100.0]), np.array([100.0, 140.0]))  # twice as wide, turned 90
    m = G.iris_placement(patch, photo, target, (0.25, 0.0), origin=(90.0, 90.0))
    centre = m @ np.array([4.0, 4.0, 1.0])
    assert centre == pytest.approx([100.0 - 90.0, 130.0 - 90.0])  # 0.25 along, down the line
    assert m[:, :2] == pytest.approx(np.array([[0.0, -2.0], [2.0, 0.0]]))


def test_an_iris_hidden_by_the_lids_is_not_lifted() -> None:
    image, _, _ = _synthetic_eye(50.0)
    hidden = np.zeros((60, 100), bool)
    assert G.iris_patch(image, (50.0, 30.0), 7.0, hidden) is None
    hidden[30:, :] = True  # the lower half shows (over MIN_VISIBLE of the disc)
    patch = G.iris_patch(image, (50.0, 30.0), 7.0, hidden)
    assert patch is not None
    # The hidden upper half is the mirror image of the lower one.
    rgb = patch.rgba[:, :, :3]
    cy = round(patch.centre[1])
    assert np.array_equal(rgb[cy - 4], rgb[cy + 4])
