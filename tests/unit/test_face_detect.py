"""Pure parts of face detection: letterbox, decoding, scores, weighted NMS, tiles."""

from __future__ import annotations

import numpy as np
import pytest

from facedubd.pipeline.face.detect import (
    Detection,
    decode_boxes,
    integer_reduction,
    iou_one_to_many,
    letterbox,
    letterbox_transform,
    merge_detections,
    sigmoid_scores,
    tile_origins,
    weighted_nms,
)


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [
        (640, 360, 128),
        (360, 640, 128),
        (500, 500, 128),
        (1000, 667, 128),
        (1283, 721, 192),  # reduced 6 times first, after dropping 5 and 1 edge pixels
        (721, 1283, 128),
        (1920, 1080, 192),
    ],
)
def test_letterbox_maps_a_bright_square_back_to_where_it_was(
    width: int, height: int, size: int
) -> None:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    x0, y0, side = width // 3, height // 3, min(width, height) // 4
    image[y0 : y0 + side, x0 : x0 + side] = 255
    tensor, box = letterbox(image, size)
    assert tensor.shape == (1, size, size, 3) and tensor.dtype == np.float32
    assert tensor.min() == pytest.approx(-1.0) and tensor.max() == pytest.approx(1.0)
    ys, xs = np.nonzero(tensor[0, :, :, 0] > 0.0)
    # Continuous model coordinates of the bright area's corners, normalised to [0, 1].
    corners = np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.max() + 1]]) / size
    mapped = box.to_image(corners)
    tolerance = 1.5 / min(box.scale_x, box.scale_y)
    np.testing.assert_allclose(mapped[0], [x0 - 0.5, y0 - 0.5], atol=tolerance)
    np.testing.assert_allclose(mapped[1], [x0 + side - 0.5, y0 + side - 0.5], atol=tolerance)


def test_integer_reduction_keeps_the_long_side_at_least_the_input() -> None:
    assert integer_reduction(1280, 720, 192) == 6  # 213 x 120 first
    assert integer_reduction(720, 1280, 128) == 10
    assert integer_reduction(640, 360, 192) == 3
    assert integer_reduction(300, 200, 192) == 1  # nothing to gain


def test_letterbox_pads_the_short_axis_evenly() -> None:
    box = letterbox_transform(640, 360, 128)
    assert (box.pad_x, box.pad_y) == (0, 28)
    assert box.scale_x == pytest.approx(0.2)
    tensor, _ = letterbox(np.full((360, 640, 3), 255, np.uint8), 128)
    assert tensor[0, 0, 64, 0] == pytest.approx(-1.0)  # padding is black
    assert tensor[0, 64, 64, 0] == pytest.approx(1.0)


def test_decode_boxes_offsets_from_the_anchor_in_model_pixels() -> None:
    raw = np.zeros((1, 16), dtype=np.float32)
    raw[0, :4] = [12.8, -6.4, 25.6, 51.2]  # centre +0.1, -0.05; size 0.2 x 0.4
    raw[0, 4:6] = [-12.8, 0.0]  # right eye 0.1 left of the anchor
    boxes, keypoints = decode_boxes(raw, np.array([[0.5, 0.5]]), scale=128)
    np.testing.assert_allclose(boxes[0], [0.5, 0.25, 0.7, 0.65], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 0], [0.4, 0.5], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 1:], np.full((5, 2), 0.5), atol=1e-6)


def test_sigmoid_scores_clip_huge_logits_without_overflow() -> None:
    scores = sigmoid_scores(np.array([-1e6, 0.0, 1e6], dtype=np.float32))
    assert scores[0] == pytest.approx(1 / (1 + np.exp(80.0)))
    assert scores[1] == pytest.approx(0.5)
    assert scores[2] == pytest.approx(1.0)


def test_iou_of_identical_disjoint_and_half_overlapping_boxes() -> None:
    box = np.array([0.0, 0.0, 2.0, 2.0])
    others = np.array([[0.0, 0.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0], [1.0, 0.0, 3.0, 2.0]])
    np.testing.assert_allclose(iou_one_to_many(box, others), [1.0, 0.0, 1 / 3])


def test_weighted_nms_averages_a_cluster_by_score_and_keeps_separate_faces() -> None:
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [5.0, 5.0, 6.0, 6.0]])
    keypoints = np.stack([np.full((6, 2), v) for v in (0.0, 1.0, 7.0)])
    scores = np.array([0.9, 0.6, 0.7])
    merged = weighted_nms(boxes, keypoints, scores, iou_threshold=0.3)
    assert len(merged) == 2
    box, points, score = merged[0]
    np.testing.assert_allclose(box, [0.04, 0.0, 1.04, 1.0])
    np.testing.assert_allclose(points, np.full((6, 2), 0.4))
    assert score == pytest.approx(0.9)
    assert merged[1][2] == pytest.approx(0.7)
    np.testing.assert_allclose(merged[1][0], boxes[2])


def test_weighted_nms_of_nothing_is_empty() -> None:
    assert weighted_nms(np.zeros((0, 4)), np.zeros((0, 6, 2)), np.zeros(0)) == []


@pytest.mark.parametrize(("width", "height"), [(2560, 1912), (640, 360), (300, 300), (360, 1280)])
def test_tiles_are_square_inside_the_image_and_cover_it(width: int, height: int) -> None:
    tiles = tile_origins(width, height)
    covered = np.zeros((height, width), dtype=bool)
    for x, y, side in tiles:
        assert x >= 0 and x + side <= width and y >= 0 and y + side <= height
        covered[y : y + side, x : x + side] = True
    assert covered.all()


def test_merge_detections_joins_the_same_face_seen_in_two_tiles() -> None:
    first = Detection((10.0, 10.0, 50.0, 50.0), np.zeros((6, 2), np.float32), 0.8)
    second = Detection((12.0, 10.0, 52.0, 50.0), np.ones((6, 2), np.float32), 0.8)
    other = Detection((100.0, 100.0, 140.0, 140.0), np.zeros((6, 2), np.float32), 0.6)
    merged = merge_detections([first, second, other])
    assert [d.score for d in merged] == [0.8, 0.6]
    assert merged[0].box == pytest.approx((11.0, 10.0, 51.0, 50.0))
    assert merged[0].centre == pytest.approx((31.0, 30.0))
    assert merged[0].width == pytest.approx(40.0)
