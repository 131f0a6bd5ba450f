"""Mesh crop geometry: the warp and its inverse, and the crops from detections and meshes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facedubd.pipeline.face.detect import Detection
from facedubd.pipeline.face.mesh import (
    MESH_INPUT,
    Roi,
    crop,
    crop_points_to_image,
    crop_to_image,
    roi_from_detection,
    roi_from_points,
    sigmoid,
)


def _blob(width: int, height: int, x: float, y: float, sigma: float = 3.0) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    glow = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    return np.repeat((glow * 255).astype(np.uint8)[:, :, None], 3, axis=2)


@pytest.mark.parametrize("rotation", [0.0, 0.3, -1.2, math.pi])
def test_points_found_in_the_crop_map_back_to_where_they_are_in_the_image(
    rotation: float,
) -> None:
    image = _blob(400, 300, x=215.0, y=137.0)
    roi = Roi(cx=200.0, cy=150.0, size=96.0, rotation=rotation)
    tensor = crop(image, roi)
    assert tensor.shape == (1, MESH_INPUT, MESH_INPUT, 3) and tensor.dtype == np.float32
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0
    weights = tensor[0, :, :, 0]
    ys, xs = np.mgrid[0:MESH_INPUT, 0:MESH_INPUT]
    # The model reports continuous crop coordinates: pixel index + 0.5.
    found = np.array([[(xs * weights).sum() / weights.sum() + 0.5,
                       (ys * weights).sum() / weights.sum() + 0.5, 4.0]])  # fmt: skip
    back = crop_points_to_image(found, roi)
    np.testing.assert_allclose(back[0, :2], [215.0, 137.0], atol=0.1)
    assert back[0, 2] == pytest.approx(4.0 * 96.0 / MESH_INPUT)


def test_crop_centre_is_the_roi_centre_and_x_axis_follows_the_rotation() -> None:
    roi = Roi(cx=50.0, cy=60.0, size=192.0, rotation=math.pi / 2)
    matrix = crop_to_image(roi)
    centre = matrix @ np.array([MESH_INPUT / 2 - 0.5, MESH_INPUT / 2 - 0.5, 1.0])
    np.testing.assert_allclose(centre, [50.0, 60.0], atol=1e-9)
    np.testing.assert_allclose(matrix[:, 0], [0.0, 1.0], atol=1e-12)  # crop x runs down


def test_roi_from_detection_squares_the_long_side_and_levels_the_eyes() -> None:
    keypoints = np.zeros((6, 2), np.float32)
    keypoints[0], keypoints[1] = (100.0, 100.0), (150.0, 150.0)
    roi = roi_from_detection(Detection((60.0, 40.0, 140.0, 160.0), keypoints, 0.9))
    assert (roi.cx, roi.cy) == (100.0, 100.0)
    assert roi.size == pytest.approx(180.0)
    assert roi.rotation == pytest.approx(math.pi / 4)


def test_roi_from_points_takes_the_box_in_the_face_frame() -> None:
    rng = np.random.default_rng(3)
    local = np.column_stack([rng.uniform(-40, 40, 468), rng.uniform(-60, 60, 468)])
    local[:4] = [(-40, -60), (40, -60), (40, 60), (-40, 60)]
    local[33], local[263] = (-30, 0), (30, 0)
    angle = 0.4
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = np.column_stack([local @ turn.T + [200.0, 150.0], np.zeros(468)])
    roi = roi_from_points(points)
    assert roi.rotation == pytest.approx(angle)
    assert (roi.cx, roi.cy) == pytest.approx((200.0, 150.0))
    assert roi.size == pytest.approx(120.0 * 1.5)


def test_sigmoid_saturates_without_overflow() -> None:
    assert sigmoid(0.0) == 0.5
    assert sigmoid(1e9) == pytest.approx(1.0)
    assert 0.0 < sigmoid(-1e9) < 1e-30
