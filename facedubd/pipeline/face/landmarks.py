"""Named points of the 468-point MediaPipe face mesh and measures taken from it.

"Right" and "left" are the subject's: on a frontal face the right eye is on the
image's left. Measures work on an (468, 3) array in image pixels (Mesh.points).

Head pose is a geometric estimate, not a model fit: the face's x axis runs from the
mean of its right-side points (outer and inner eye corner, mouth corner) to the mean
of the matching left-side points; its y axis runs from the eyes' centre down to the
mouth's centre, made orthogonal to x; z = x cross y points into the head. The
rotation with those columns is split as R = Ry(yaw) Rx(pitch) Rz(roll) in the camera
frame (x right, y down, z away from the camera). A face square to the camera, eye line
level, and mouth corners as deep as the eye corners has yaw = pitch = roll = 0. Signs:
yaw > 0 the face turns toward the image's left (the subject's right); pitch > 0 it
looks down; roll > 0 it tilts clockwise as seen in the image."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

RIGHT_EYE_OUTER = 33
RIGHT_EYE_INNER = 133
LEFT_EYE_INNER = 362
LEFT_EYE_OUTER = 263
NOSE_TIP = 1
MOUTH_RIGHT = 61
MOUTH_LEFT = 291
UPPER_INNER_LIP = 13
LOWER_INNER_LIP = 14
RIGHT_EYE_UPPER_LID = 159
RIGHT_EYE_LOWER_LID = 145
LEFT_EYE_UPPER_LID = 386
LEFT_EYE_LOWER_LID = 374
FOREHEAD_TOP = 10
CHIN = 152

#: The points that the tests check against hand-placed boxes.
KEY_POINTS: dict[str, int] = {
    "right_eye_outer": RIGHT_EYE_OUTER,
    "right_eye_inner": RIGHT_EYE_INNER,
    "left_eye_inner": LEFT_EYE_INNER,
    "left_eye_outer": LEFT_EYE_OUTER,
    "nose_tip": NOSE_TIP,
    "mouth_right": MOUTH_RIGHT,
    "mouth_left": MOUTH_LEFT,
}

#: The inner edge of the lips, in order around the mouth opening (right corner first).
INNER_LIP: tuple[int, ...] = (
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415,
    308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
)  # fmt: skip

#: The outer edge of the lips, in order around the mouth (right corner first, upper lip,
#: then lower lip back to the right corner).
OUTER_LIP: tuple[int, ...] = (
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409,
    291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
)  # fmt: skip

#: The outline of the face, in order from the forehead's top, clockwise in the image.
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288,
    397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
    172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip

_RIGHT_SIDE = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, MOUTH_RIGHT)
_LEFT_SIDE = (LEFT_EYE_OUTER, LEFT_EYE_INNER, MOUTH_LEFT)
_EYE_CORNERS = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER)
_MOUTH_CORNERS = (MOUTH_RIGHT, MOUTH_LEFT)


@dataclasses.dataclass(frozen=True)
class HeadPose:
    """Degrees; see the module docstring for the frame and the signs."""

    yaw: float
    pitch: float
    roll: float


def _distance(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a, :2].astype(np.float64) - points[b, :2]))


def inter_ocular_distance(points: np.ndarray) -> float:
    """Image distance between the outer eye corners (33 and 263), pixels."""
    return _distance(points, RIGHT_EYE_OUTER, LEFT_EYE_OUTER)


def eye_openness(points: np.ndarray) -> tuple[float, float]:
    """(right, left): lid gap over eye width; about 0.3 open, under 0.1 closed."""
    right = _distance(points, RIGHT_EYE_UPPER_LID, RIGHT_EYE_LOWER_LID) / _distance(
        points, RIGHT_EYE_OUTER, RIGHT_EYE_INNER
    )
    left = _distance(points, LEFT_EYE_UPPER_LID, LEFT_EYE_LOWER_LID) / _distance(
        points, LEFT_EYE_OUTER, LEFT_EYE_INNER
    )
    return right, left


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap (13 to 14) over mouth width (61 to 291); about 0 when closed."""
    return _distance(points, UPPER_INNER_LIP, LOWER_INNER_LIP) / _distance(
        points, MOUTH_RIGHT, MOUTH_LEFT
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def face_frame(points: np.ndarray) -> np.ndarray:
    """The 3 x 3 rotation whose columns are the face's x, y, z axes (module docstring)."""
    p = points.astype(np.float64)
    x_axis = _unit(p[list(_LEFT_SIDE)].mean(axis=0) - p[list(_RIGHT_SIDE)].mean(axis=0))
    down = p[list(_MOUTH_CORNERS)].mean(axis=0) - p[list(_EYE_CORNERS)].mean(axis=0)
    y_axis = _unit(down - down.dot(x_axis) * x_axis)
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Ry(yaw) Rx(pitch) Rz(roll), angles in degrees."""
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def angles_from_rotation(rotation: np.ndarray) -> HeadPose:
    """Split R = Ry(yaw) Rx(pitch) Rz(roll) into its angles (degrees)."""
    pitch = math.asin(max(-1.0, min(1.0, -float(rotation[1, 2]))))
    yaw = math.atan2(float(rotation[0, 2]), float(rotation[2, 2]))
    roll = math.atan2(float(rotation[1, 0]), float(rotation[1, 1]))
    return HeadPose(math.degrees(yaw), math.degrees(pitch), math.degrees(roll))


def head_pose(points: np.ndarray) -> HeadPose:
    """Yaw, pitch and roll of the face, degrees (module docstring)."""
    return angles_from_rotation(face_frame(points))
