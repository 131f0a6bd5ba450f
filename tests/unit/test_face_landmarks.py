"""Landmark measures on synthetic meshes with known geometry."""

from __future__ import annotations

import numpy as np
import pytest

from facedubd.pipeline.face import landmarks as lm


def _frontal_mesh(seed: int = 0) -> np.ndarray:
    """A face square to the camera: eyes level, mouth corners as deep as the eye corners."""
    points = np.random.default_rng(seed).uniform(-60, 60, (468, 3))
    points[lm.RIGHT_EYE_OUTER] = (-45, 0, 0)
    points[lm.RIGHT_EYE_INNER] = (-15, 0, 0)
    points[lm.LEFT_EYE_INNER] = (15, 0, 0)
    points[lm.LEFT_EYE_OUTER] = (45, 0, 0)
    points[lm.MOUTH_RIGHT] = (-25, 60, 0)
    points[lm.MOUTH_LEFT] = (25, 60, 0)
    points[lm.NOSE_TIP] = (0, 30, -30)
    return points


def test_a_frontal_mesh_has_zero_pose() -> None:
    pose = lm.head_pose(_frontal_mesh())
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((0.0, 0.0, 0.0), abs=1e-9)


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"), [(20.0, -10.0, 15.0), (-35.0, 25.0, -5.0), (0.0, 0.0, 40.0)]
)
def test_head_pose_recovers_the_rotation_of_a_rotated_mesh(
    yaw: float, pitch: float, roll: float
) -> None:
    rotation = lm.rotation_from_angles(yaw, pitch, roll)
    rotated = _frontal_mesh() @ rotation.T + [320.0, 240.0, 5.0]
    pose = lm.head_pose(rotated)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=1e-6)


def test_pose_signs_match_the_documented_directions() -> None:
    nose = _frontal_mesh()[lm.NOSE_TIP]
    assert (lm.rotation_from_angles(30, 0, 0) @ nose)[0] < 0  # yaw > 0: nose to image left
    assert (lm.rotation_from_angles(0, 20, 0) @ nose)[1] > nose[1]  # pitch > 0: looks down
    left_eye = _frontal_mesh()[lm.LEFT_EYE_OUTER]
    assert (lm.rotation_from_angles(0, 0, 10) @ left_eye)[1] > 0  # roll > 0: clockwise


def test_angles_round_trip_through_the_rotation_matrix() -> None:
    rotation = lm.rotation_from_angles(12.0, -33.0, 71.0)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    pose = lm.angles_from_rotation(rotation)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((12.0, -33.0, 71.0))


def test_inter_ocular_distance_eye_openness_and_mouth_opening() -> None:
    points = _frontal_mesh()
    points[lm.RIGHT_EYE_UPPER_LID] = (-30, -4.5, 0)
    points[lm.RIGHT_EYE_LOWER_LID] = (-30, 4.5, 0)
    points[lm.LEFT_EYE_UPPER_LID] = (30, -0.5, 0)
    points[lm.LEFT_EYE_LOWER_LID] = (30, 0.5, 0)
    points[lm.UPPER_INNER_LIP] = (0, 55, 0)
    points[lm.LOWER_INNER_LIP] = (0, 65, 0)
    assert lm.inter_ocular_distance(points) == pytest.approx(90.0)
    assert lm.eye_openness(points) == pytest.approx((0.3, 1 / 30))
    assert lm.mouth_opening(points) == pytest.approx(0.2)


def test_named_index_sets_are_valid_mesh_indices() -> None:
    for indices in (lm.INNER_LIP, lm.FACE_OVAL, tuple(lm.KEY_POINTS.values())):
        assert len(set(indices)) == len(indices)
        assert all(0 <= i < 468 for i in indices)
    assert lm.UPPER_INNER_LIP in lm.INNER_LIP and lm.LOWER_INNER_LIP in lm.INNER_LIP
    assert lm.FOREHEAD_TOP in lm.FACE_OVAL and lm.CHIN in lm.FACE_OVAL
