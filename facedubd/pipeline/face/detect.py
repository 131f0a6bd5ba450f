"""Face detection with MediaPipe's BlazeFace models (short range and full range).

Letterbox the image into the model's square input scaled to [-1, 1], decode boxes and
six keypoints against the SSD anchors, keep scores over the model's threshold, and merge
overlapping boxes with weighted non-maximum suppression (notes/MEDIAPIPE.md)."""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from facedubd.pipeline.face.anchors import FULL_RANGE, SHORT_RANGE, DetectorSpec, ssd_anchors
from facedubd.pipeline.face.session import Session, pick_by_last_dim, run_single_input

if TYPE_CHECKING:
    from facedubd.pipeline.face.loader import FaceModels

NMS_IOU = 0.3
#: In "auto" mode, a short-range face narrower than this share of the long side
#: sends the image to the full-range model as well.
SHORT_RANGE_MIN_FRACTION = 0.2
#: In "auto" mode, images with a long side of at least this many pixels are searched in
#: tiles when neither model finds a face in the whole image (large photos only: on video
#: frames tiles mostly add false faces in textures and lettering).
TILE_MIN_LONG_SIDE = 1280
LOGIT_CLIP = 80.0
KEYPOINT_NAMES: tuple[str, ...] = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_centre",
    "right_ear",
    "left_ear",
)


@dataclasses.dataclass(frozen=True, eq=False)
class Detection:
    """One face: box (x0, y0, x1, y1) and keypoints (6, 2) in image pixels, score in [0, 1].

    Keypoints follow KEYPOINT_NAMES; "right" is the subject's right (the image's left
    on a frontal face). Pixel (0, 0)'s centre is at (0, 0), as in OpenCV."""

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


@dataclasses.dataclass(frozen=True)
class Letterbox:
    """How an image sits in a square model input: scale per axis and padding, model pixels."""

    size: int
    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int

    def to_image(self, normalised: np.ndarray) -> np.ndarray:
        """Map (..., 2) points in [0, 1] model coordinates to image pixel coordinates."""
        cont = normalised * self.size - np.array([self.pad_x, self.pad_y], dtype=np.float64)
        return cont / np.array([self.scale_x, self.scale_y]) - 0.5


def letterbox_transform(width: int, height: int, size: int) -> Letterbox:
    """Fit width x height into size x size keeping the aspect ratio, centred."""
    scale = size / max(width, height)
    new_w = max(1, round(width * scale))
    new_h = max(1, round(height * scale))
    return Letterbox(size, new_w / width, new_h / height, (size - new_w) // 2, (size - new_h) // 2)


def integer_reduction(width: int, height: int, size: int) -> int:
    """The whole factor an image can first be shrunk by (at least 2, else 1) while its long
    side stays at least `size`: OpenCV's area resize is several times faster for whole
    factors, so a large frame is reduced that way before the last, small resize."""
    factor = max(width, height) // size
    return factor if factor >= 2 else 1


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """The (1, size, size, 3) float32 input in [-1, 1]; padding is black (-1).

    A large image is first cut to a multiple of a whole factor (dropping fewer than that
    many pixels at its right and bottom edges) and area-reduced by it."""
    height, width = rgb.shape[:2]
    factor = integer_reduction(width, height, size)
    if factor > 1:
        width, height = width // factor * factor, height // factor * factor
        rgb = cv2.resize(
            rgb[:height, :width],
            (width // factor, height // factor),
            interpolation=cv2.INTER_AREA,
        )
    box = letterbox_transform(rgb.shape[1], rgb.shape[0], size)
    new_w, new_h = round(rgb.shape[1] * box.scale_x), round(rgb.shape[0] * box.scale_y)
    box = dataclasses.replace(box, scale_x=new_w / width, scale_y=new_h / height)
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[box.pad_y : box.pad_y + new_h, box.pad_x : box.pad_x + new_w] = resized
    tensor = canvas.astype(np.float32) / 127.5 - 1.0
    return tensor[None], box


def sigmoid_scores(logits: np.ndarray, clip: float = LOGIT_CLIP) -> np.ndarray:
    """Scores from logits, clipped to +-clip first as MediaPipe does."""
    clipped = np.clip(logits.astype(np.float64), -clip, clip)
    return 1.0 / (1.0 + np.exp(-clipped))


def decode_boxes(
    raw: np.ndarray, anchors: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) as x0, y0, x1, y1 and keypoints (N, 6, 2), both in [0, 1] coordinates.

    raw is (N, 16): centre offset (2), size (2), then 6 keypoint offsets (2 each), all
    in model pixels relative to the anchor centre."""
    raw = raw.reshape(-1, 16).astype(np.float64)
    centre = raw[:, 0:2] / scale + anchors
    half = raw[:, 2:4] / scale / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) / scale + anchors[:, None, :]
    return boxes, keypoints


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one x0, y0, x1, y1 box with each of (N, 4) boxes."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Merge clusters of overlapping candidates, best first.

    Each cluster is the best remaining candidate and every other one overlapping it by
    more than iou_threshold; its box and keypoints are the score-weighted mean of the
    cluster, its score the best one's."""
    order = np.argsort(-scores, kind="stable")
    remaining = order
    merged: list[tuple[np.ndarray, np.ndarray, float]] = []
    while remaining.size:
        best = remaining[0]
        overlaps = iou_one_to_many(boxes[best], boxes[remaining]) > iou_threshold
        overlaps[0] = True
        cluster = remaining[overlaps]
        weights = scores[cluster] / scores[cluster].sum()
        box = (boxes[cluster] * weights[:, None]).sum(axis=0)
        points = (keypoints[cluster] * weights[:, None, None]).sum(axis=0)
        merged.append((box, points, float(scores[best])))
        remaining = remaining[~overlaps]
    return merged


@functools.lru_cache(maxsize=4)
def _anchors(spec: DetectorSpec) -> np.ndarray:
    return ssd_anchors(spec).astype(np.float64)


def _box_tuple(corners: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in corners.ravel())
    return (x0, y0, x1, y1)


def run_detector(session: Session, spec: DetectorSpec, rgb: np.ndarray) -> list[Detection]:
    """Faces found by one detector model on the whole image, best first."""
    tensor, fit = letterbox(rgb, spec.input_size)
    outputs = run_single_input(session, tensor)
    raw = pick_by_last_dim(outputs, 16).reshape(-1, 16)
    scores = sigmoid_scores(pick_by_last_dim(outputs, 1).reshape(-1))
    keep = scores >= spec.score_threshold
    if not keep.any():
        return []
    boxes, keypoints = decode_boxes(raw[keep], _anchors(spec)[keep], spec.input_size)
    return [
        Detection(_box_tuple(fit.to_image(b.reshape(2, 2))), fit.to_image(k).astype(np.float32), s)
        for b, k, s in weighted_nms(boxes, keypoints, scores[keep])
    ]


def tile_origins(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) of side half the long edge (at least the short edge's
    two thirds), overlapping by half a tile, covering the image."""
    long_edge, short_edge = max(width, height), min(width, height)
    side = max(1, min(short_edge, max(long_edge // 2, 2 * short_edge // 3)))
    step = max(1, side // 2)
    xs = sorted({*range(0, max(1, width - side + 1), step), max(0, width - side)})
    ys = sorted({*range(0, max(1, height - side + 1), step), max(0, height - side)})
    return [(x, y, side) for y in ys for x in xs]


def merge_detections(found: list[Detection], iou_threshold: float = NMS_IOU) -> list[Detection]:
    """Weighted NMS over detections that came from different runs (e.g. tiles)."""
    if not found:
        return []
    boxes = np.array([d.box for d in found], dtype=np.float64)
    keypoints = np.stack([d.keypoints.astype(np.float64) for d in found])
    scores = np.array([d.score for d in found])
    return [
        Detection(_box_tuple(b), k.astype(np.float32), s)
        for b, k, s in weighted_nms(boxes, keypoints, scores, iou_threshold)
    ]


def run_detector_tiled(session: Session, spec: DetectorSpec, rgb: np.ndarray) -> list[Detection]:
    """Run a detector on overlapping square tiles and merge: finds faces too small for
    one pass over a large image, at a few times the cost."""
    height, width = rgb.shape[:2]
    found: list[Detection] = []
    for x, y, side in tile_origins(width, height):
        offset = np.array([x, y], dtype=np.float32)
        for d in run_detector(session, spec, rgb[y : y + side, x : x + side]):
            shifted = (d.box[0] + x, d.box[1] + y, d.box[2] + x, d.box[3] + y)
            found.append(Detection(shifted, d.keypoints + offset, d.score))
    return merge_detections(found)


def _has_small_face(found: list[Detection], rgb: np.ndarray) -> bool:
    long_side = max(rgb.shape[:2])
    return any(max(d.width, d.height) < SHORT_RANGE_MIN_FRACTION * long_side for d in found)


def detect_faces(
    models: FaceModels,
    rgb: np.ndarray,
    *,
    small: bool | Literal["auto"] = "auto",
    tiles: bool = True,
) -> list[Detection]:
    """Faces in an RGB uint8 image (H, W, 3), best first.

    small=False uses the short-range model (faces over ~20% of the image), small=True
    the full-range one (small and distant faces). "auto" runs short range; when that
    finds nothing or a face under 20% of the image's long side, it takes the full-range
    result instead (if any); when both find nothing in an image with a long side of at
    least TILE_MIN_LONG_SIDE, it runs short range on overlapping tiles, which catches
    small faces in turned poses on large photos. tiles=False never runs the tiles (a
    caller that knows the face it looks for is large)."""
    if small is True:
        return run_detector(models.full, FULL_RANGE, rgb)
    found = run_detector(models.short, SHORT_RANGE, rgb)
    if small is False or (found and not _has_small_face(found, rgb)):
        return found
    wider = run_detector(models.full, FULL_RANGE, rgb)
    if wider or found or not tiles or max(rgb.shape[:2]) < TILE_MIN_LONG_SIDE:
        return wider or found
    return run_detector_tiled(models.short, SHORT_RANGE, rgb)
