"""The pure parts of hand tracking and occlusion: palm anchors and decoding, hand crops,
the hand mask, and putting the reference's pixels back under a hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facedubd.pipeline.face import hands as H
from facedubd.pipeline.face.mesh import Roi, crop_points_to_image, crop_to_image
from facedubd.pipeline.occlusion import hands_of, keep_hands


def upright_hand(cx: float = 100.0, wrist_y: float = 160.0, knuckle: float = 40.0) -> np.ndarray:
    """A flat, upright right hand (fingers up, spread a little), 21 x 3 image points:
    wrist at (cx, wrist_y), knuckle line `knuckle` pixels wide, fingers 1.6x that long."""
    pts = np.zeros((21, 3), np.float32)
    pts[0] = (cx, wrist_y, 0)
    palm = knuckle * 1.1
    # Thumb: out to the side.
    for j in range(1, 5):
        pts[j] = (cx - 0.4 * knuckle - 0.2 * knuckle * j, wrist_y - 0.25 * palm * j, 0)
    bases = np.linspace(-0.5, 0.5, 4) * knuckle
    for finger, base in zip(range(1, 5), bases, strict=True):
        first = 1 + 4 * finger
        for j in range(4):
            length = 0.4 * knuckle * j
            pts[first + j] = (cx + base * (1 + 0.1 * j), wrist_y - palm - length, 0)
    return pts


# ----------------------------------------------------------------------------- palms


def test_palm_anchors_are_two_grids_in_model_order() -> None:
    anchors = H.palm_anchors()
    assert anchors.shape == (2016, 2)
    # 24 x 24 cells, 2 anchors each, then 12 x 12 cells, 6 anchors each.
    np.testing.assert_allclose(anchors[0], [0.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(anchors[1151], [23.5 / 24, 23.5 / 24])
    np.testing.assert_allclose(anchors[1152:1158], np.tile([0.5 / 12, 0.5 / 12], (6, 1)))
    np.testing.assert_allclose(anchors[-1], [11.5 / 12, 11.5 / 12])


def test_decode_palms_offsets_from_the_anchor_in_model_pixels() -> None:
    anchors = np.array([[0.25, 0.5], [0.75, 0.75]])
    raw = np.zeros((2, 18))
    raw[0, :4] = (19.2, -9.6, 38.4, 57.6)  # centre +0.1, -0.05; size 0.2 x 0.3
    raw[0, 4:6] = (0.0, 19.2)  # wrist 0.1 below the anchor
    raw[0, 8:10] = (0.0, -19.2)  # middle knuckle 0.1 above it
    boxes, keypoints = H.decode_palms(raw, anchors, 192.0)
    np.testing.assert_allclose(boxes[0], [0.25, 0.3, 0.45, 0.6])
    np.testing.assert_allclose(keypoints[0, 0], [0.25, 0.6])
    np.testing.assert_allclose(keypoints[0, 2], [0.25, 0.4])
    np.testing.assert_allclose(boxes[1], [0.75, 0.75, 0.75, 0.75])
    np.testing.assert_allclose(keypoints[1], np.tile([0.75, 0.75], (7, 1)))


@pytest.mark.parametrize(
    ("direction", "expected_deg"),
    [((0, -1), 0.0), ((1, 0), 90.0), ((0, 1), 180.0), ((-1, 0), -90.0), ((1, -1), 45.0)],
)
def test_upright_rotation_turns_the_fingers_up_in_the_crop(
    direction: tuple[float, float], expected_deg: float
) -> None:
    wrist = np.array([50.0, 50.0])
    rotation = H.upright_rotation(wrist, wrist + np.asarray(direction))
    assert math.degrees(rotation) == pytest.approx(expected_deg)
    # In the crop (x axis at `rotation`), the wrist -> knuckle direction is straight up.
    c, s = math.cos(rotation), math.sin(rotation)
    in_crop = np.array([[c, s], [-s, c]]) @ np.asarray(direction, float)
    np.testing.assert_allclose(in_crop / np.linalg.norm(in_crop), [0.0, -1.0], atol=1e-12)


def test_palm_roi_moves_toward_the_fingers_and_grows() -> None:
    # An upright palm box 40 x 40 at (100, 100): the crop moves half a box up.
    roi = H.palm_roi([80, 80, 120, 120], np.array([[100, 118], [0, 0], [100, 85]] + [[0, 0]] * 4))
    assert roi.rotation == pytest.approx(0.0)
    assert (roi.cx, roi.cy) == pytest.approx((100.0, 80.0))
    assert roi.size == pytest.approx(40 * H.PALM_ROI_SCALE)
    # Fingers pointing right: the crop moves half a box to the right.
    roi = H.palm_roi([80, 80, 120, 120], np.array([[82, 100], [0, 0], [115, 100]] + [[0, 0]] * 4))
    assert math.degrees(roi.rotation) == pytest.approx(90.0)
    assert (roi.cx, roi.cy) == pytest.approx((120.0, 100.0))


def test_roi_from_hand_holds_the_palm_upright_and_the_hand_inside() -> None:
    hand = upright_hand()
    roi = H.roi_from_hand(hand)
    assert abs(math.degrees(roi.rotation)) < 10  # roughly upright (knuckles lean to the index)
    half = roi.size / 2
    assert np.all(np.abs(hand[:, 0] - roi.cx) < half)
    assert np.all(np.abs(hand[:, 1] - roi.cy) < half)
    # Turning the hand turns its crop with it.
    angle = math.radians(30)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    turned = hand.copy()
    turned[:, :2] = (hand[:, :2] - [100, 100]) @ turn.T + [100, 100]
    assert H.roi_from_hand(turned).rotation == pytest.approx(roi.rotation + angle, abs=1e-6)
    assert H.roi_from_hand(turned).size == pytest.approx(roi.size)


def test_hand_crop_and_its_points_round_trip() -> None:
    roi = Roi(120.0, 90.0, 150.0, math.radians(20))
    crop = np.array([[0.5, 0.5, 0.0], [224.0, 112.0, 3.0], [112.0, 224.0, -5.0]])
    image = crop_points_to_image(crop, roi, H.HAND_INPUT)
    matrix = crop_to_image(roi, H.HAND_INPUT)
    np.testing.assert_allclose(image[0, :2], matrix[:, 2], atol=1e-4)  # crop pixel (0, 0)
    np.testing.assert_allclose(image[:, 2], crop[:, 2] * 150 / 224, rtol=1e-6)
    rgb = np.full((200, 300, 3), 255, np.uint8)
    tensor = H.hand_crop(rgb, roi)
    assert tensor.shape == (1, 224, 224, 3) and tensor.dtype == np.float32
    assert tensor.max() == pytest.approx(1.0) and tensor.min() == 0.0  # black off the frame


def test_search_box_is_a_square_inside_the_frame() -> None:
    assert H.search_box(Roi(320, 180, 100, 0.0), (360, 640)) == (240, 100, 160)
    assert H.search_box(Roi(20, 20, 100, 0.0), (360, 640)) == (0, 0, 160)
    assert H.search_box(Roi(600, 300, 300, 0.0), (360, 640)) == (280, 0, 360)


def test_face_probes_and_near_face() -> None:
    face = np.zeros((468, 3))
    face[H.PROBE_POINTS["chin"]] = (210.0, 260.0, 0.0)
    face[H.PROBE_POINTS["nose"]] = (205.0, 200.0, -9.0)
    roi = Roi(200.0, 200.0, 180.0, 0.1)
    probe = H.face_probe(face, roi, "chin")
    assert (probe.cx, probe.cy, probe.size, probe.rotation) == (210.0, 260.0, 180.0, 0.1)
    probe = H.face_probe(face, roi, "nose")
    assert (probe.cx, probe.cy, probe.size, probe.rotation) == (205.0, 200.0, 180.0, 0.1)
    hand = upright_hand(cx=200.0, wrist_y=400.0)
    assert H.near_face(hand, roi)  # fingers up to y ~ 300
    assert not H.near_face(hand + np.float32([400.0, 0.0, 0.0]), roi)


# ----------------------------------------------------------------------------- the mask


def test_hand_mask_covers_palm_and_fingers_and_feathers_outside() -> None:
    hand = upright_hand()
    mask = H.hand_mask((220, 200), [hand])
    assert mask.dtype == np.float32 and mask.min() >= 0.0 and mask.max() <= 1.0
    width = H.finger_width(hand)
    assert width == pytest.approx(0.25 * 40)
    # Solid on the palm, on each knuckle and fingertip.
    for index in (0, 5, 8, 9, 12, 13, 16, 17, 20, 4):
        x, y = np.round(hand[index, :2]).astype(int)
        assert mask[y, x] == 1.0, index
    centre = np.round(hand[[0, 5, 17]].mean(axis=0)[:2]).astype(int)
    assert mask[centre[1], centre[0]] == 1.0
    # Grown by about a third of a finger each side: still solid there.
    tip = hand[20, :2]  # the little finger's tip: nothing to its right
    assert mask[round(tip[1]), round(tip[0] + 0.8 * width)] == 1.0
    # Falls off beyond, and nothing far away.
    reach = H.hand_reach(hand)
    assert mask[round(tip[1]), round(tip[0] + reach)] == 0.0
    assert mask[5, 5] == 0.0 and mask[215, 195] == 0.0
    row = mask[round(tip[1]) + 4, round(tip[0]) : round(tip[0] + reach)]
    assert np.all(np.diff(row[np.nonzero(row < 1.0)[0][0] - 1 :]) <= 0)  # monotone edge
    assert row.min() > 0.0 or row[-1] == 0.0


def test_hand_mask_at_an_origin_is_the_same_mask_shifted() -> None:
    hand = upright_hand()
    whole = H.hand_mask((220, 200), [hand])
    part = H.hand_mask((120, 100), [hand], origin=(50, 60))
    np.testing.assert_array_equal(part, whole[60:180, 50:150])


def test_hand_box_bounds_the_mask_and_clips_to_the_box() -> None:
    hand = upright_hand()
    whole = H.hand_mask((220, 200), [hand])
    box = H.hand_box([hand], (0, 0, 200, 220))
    assert box is not None
    x0, y0, x1, y1 = box
    assert whole.sum() == pytest.approx(whole[y0:y1, x0:x1].sum())
    assert H.hand_box([hand], (0, 0, 20, 20)) is None  # the hand is nowhere near
    assert H.hand_box([hand], (90, 100, 110, 120)) == (90, 100, 110, 120)


def test_keep_hands_puts_the_reference_back_under_the_hand_only() -> None:
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (220, 200, 3), dtype=np.uint8)
    dubbed = rng.integers(0, 256, (220, 200, 3), dtype=np.uint8)
    before = dubbed.copy()
    hand = upright_hand()
    box = (0, 0, 200, 220)
    out = keep_hands(dubbed, frame, [hand], box)
    mask = H.hand_mask((220, 200), [hand])
    solid, clear = mask == 1.0, mask == 0.0
    np.testing.assert_array_equal(out[solid], frame[solid])
    np.testing.assert_array_equal(out[clear], before[clear])
    # Outside the box nothing changes, even under the hand.
    dubbed = before.copy()
    out = keep_hands(dubbed, frame, [hand], (0, 0, 200, 120))
    np.testing.assert_array_equal(out[120:], before[120:])
    assert np.array_equal(out[:120][solid[:120]], frame[:120][solid[:120]])
    # No hands: the same array back, untouched.
    same = before.copy()
    assert keep_hands(same, frame, [], box) is same
    np.testing.assert_array_equal(same, before)


def test_hands_of_reads_what_a_tracked_face_carries() -> None:
    hand = upright_hand()
    roi = Roi(0, 0, 1, 0)
    face = H.FaceWithHands(np.zeros((468, 3), np.float32), 1.0, roi, hands=(hand,))
    assert len(hands_of(face)) == 1 and hands_of(face)[0] is hand
    assert hands_of(np.zeros((468, 3))) == ()
    assert hands_of(H.FaceWithHands(np.zeros((468, 3), np.float32), 1.0, roi)) == ()
