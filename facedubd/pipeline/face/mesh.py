"""The dense face mesh: 468 3-D points from MediaPipe's face_landmark model.

A region of interest (centre, size, rotation) is cut out of the image with one affine
warp into the model's 192 x 192 input; the inverse of that warp maps the points back.
Image coordinates are pixels with pixel (0, 0)'s centre at (0, 0), as in OpenCV; z
is relative depth (negative toward the camera) in the same pixel units as x."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from facedubd.pipeline.face.detect import Detection
from facedubd.pipeline.face.session import Session, pick_output, run_single_input

MESH_INPUT = 192
MESH_POINTS = 468
ROI_SCALE = 1.5
#: Outer eye corners (subject's right, subject's left): the roll of a tracked face.
RIGHT_EYE_OUTER = 33
LEFT_EYE_OUTER = 263


@dataclasses.dataclass(frozen=True)
class Roi:
    """A square, rotated crop: centre and side in image pixels, rotation in radians.

    rotation is the angle of the crop's x axis in the image (y down), so a face whose
    eye line slopes down to the image's right has a positive rotation."""

    cx: float
    cy: float
    size: float
    rotation: float


@dataclasses.dataclass(frozen=True, eq=False)
class Mesh:
    """468 points (x, y, z) in image pixels, the face-presence score, and the crop used."""

    points: np.ndarray
    presence: float
    roi: Roi


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def angle_between(start: np.ndarray, end: np.ndarray) -> float:
    """Angle of the vector start -> end in image coordinates (y down), radians."""
    return math.atan2(float(end[1] - start[1]), float(end[0] - start[0]))


def roi_from_detection(detection: Detection, scale: float = ROI_SCALE) -> Roi:
    """The mesh crop for a detection: its box centre, square on the long side, x scale,
    rotated so the right-eye -> left-eye keypoint line is horizontal."""
    cx, cy = detection.centre
    rotation = angle_between(detection.keypoints[0], detection.keypoints[1])
    return Roi(cx, cy, max(detection.width, detection.height) * scale, rotation)


def roi_from_points(points: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """The mesh crop that follows a previous mesh: the points' bounding box taken in the
    face's own frame (rotation from point 33 to 263), square on the long side, x scale."""
    xy = points[:, :2].astype(np.float64)
    rotation = angle_between(xy[RIGHT_EYE_OUTER], xy[LEFT_EYE_OUTER])
    upright = xy @ _rotation(rotation)  # rows times R == R^T applied: undo the roll
    low, high = upright.min(axis=0), upright.max(axis=0)
    centre = _rotation(rotation) @ ((low + high) / 2)
    return Roi(float(centre[0]), float(centre[1]), float((high - low).max() * scale), rotation)


def crop_to_image(roi: Roi, size: int = MESH_INPUT) -> np.ndarray:
    """The 2 x 3 affine matrix taking crop pixel coordinates to image pixel coordinates."""
    linear = _rotation(roi.rotation) * (roi.size / size)
    offset = np.array([roi.cx, roi.cy]) + linear @ np.full(2, 0.5 - size / 2)
    return np.hstack([linear, offset[:, None]])


def crop_points_to_image(
    crop_points: np.ndarray, roi: Roi, size: int = MESH_INPUT, matrix: np.ndarray | None = None
) -> np.ndarray:
    """Map (N, 3) model outputs (x, y in the crop's continuous pixels, z) to the image.

    Continuous crop coordinate u is pixel u - 0.5, hence the half-pixel shift; z is
    scaled like x and y (roi.size / size). `matrix`: crop_to_image(roi, size), if known."""
    matrix = crop_to_image(roi, size) if matrix is None else matrix
    xy = crop_points[:, :2].astype(np.float64) - 0.5
    image_xy = xy @ matrix[:, :2].T + matrix[:, 2]
    z = crop_points[:, 2:3].astype(np.float64) * (roi.size / size)
    return np.hstack([image_xy, z]).astype(np.float32)


def crop(
    rgb: np.ndarray, roi: Roi, size: int = MESH_INPUT, matrix: np.ndarray | None = None
) -> np.ndarray:
    """The (1, size, size, 3) float32 model input in [0, 1], cut with one affine warp
    (given the crop-to-image matrix itself: OpenCV inverts it; `matrix`: crop_to_image)."""
    matrix = crop_to_image(roi, size) if matrix is None else matrix
    patch = cv2.warpAffine(
        rgb,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    tensor = patch.astype(np.float32)
    tensor /= 255.0
    return tensor[None]


def sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-80.0, min(80.0, logit))))


def run_mesh(session: Session, rgb: np.ndarray, roi: Roi) -> Mesh:
    """Run the face_landmark model on one crop and map its 468 points back to the image."""
    matrix = crop_to_image(roi)  # one matrix for the cut and the way back
    outputs = run_single_input(session, crop(rgb, roi, matrix=matrix))
    raw = pick_output(outputs, MESH_POINTS * 3).reshape(MESH_POINTS, 3)
    presence = sigmoid(float(pick_output(outputs, 1).ravel()[0]))
    return Mesh(crop_points_to_image(raw, roi, matrix=matrix), presence, roi)
