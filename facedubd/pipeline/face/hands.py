"""Hands near the face: MediaPipe's 21-point hand landmark model (and palm detector).

Only hands that can cover the tracked face matter (the dub keeps the reference's pixels
where they do), so nothing looks at the whole frame. While no hand is followed, a probe
runs every few frames: the landmark model on a face-sized crop centred on the chin or
the nose tip, whose hand-presence score says whether a hand is there (on the demo clip
0.53-0.95 with a hand at the face, 0.00-0.01 without), or, when asked for, the palm
detector over a square around the face (a palm gives the hand's crop by MediaPipe's
rule: the palm box turned so the wrist -> middle-finger line points up, shifted half a
box toward the fingers, grown 2.6 times). A found hand is followed from its own previous
points (the palm and the fingers' lower joints, grown twice), like the face mesh.

Points are image pixels with pixel (0, 0)'s centre at (0, 0), as in `mesh.py`."""

from __future__ import annotations

import dataclasses
import functools
import math

import cv2
import numpy as np
import numpy.typing as npt

from facedubd.pipeline.face.anchors import DetectorSpec, ssd_anchors
from facedubd.pipeline.face.detect import sigmoid_scores, weighted_nms
from facedubd.pipeline.face.mesh import Mesh, Roi, crop_points_to_image, crop_to_image
from facedubd.pipeline.face.session import Session, pick_output, run_single_input

PALM = DetectorSpec(
    name="palm_detection_lite",
    input_size=192,
    strides=(8, 16, 16, 16),
    anchors_per_layer=2,
    score_threshold=0.5,
)
HAND_MODEL = "hand_landmark_lite"
HAND_MODEL_NAMES: tuple[str, ...] = (PALM.name, HAND_MODEL)
HAND_INPUT = 224
HAND_POINTS = 21
#: Palm keypoints: the wrist's centre and the middle finger's knuckle.
PALM_WRIST, PALM_MIDDLE = 0, 2
#: Landmarks: wrist, knuckles (MCP) of index, middle, ring and little finger.
WRIST, INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP = 0, 5, 9, 13, 17
#: The palm and the fingers' lower joints: what the next frame's crop is fitted to.
TRACK_POINTS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)
#: The five chains from the wrist to each fingertip.
FINGERS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 3, 4),
    (0, 5, 6, 7, 8),
    (0, 9, 10, 11, 12),
    (0, 13, 14, 15, 16),
    (0, 17, 18, 19, 20),
)
PALM_LOOP = (0, 1, 5, 9, 13, 17)
#: Palm box -> hand crop (MediaPipe's palm detection to hand ROI).
PALM_ROI_SCALE = 2.6
PALM_ROI_SHIFT = -0.5
#: Previous landmarks -> next crop (MediaPipe's hand landmarks to ROI).
TRACK_ROI_SCALE = 2.0
TRACK_ROI_SHIFT = -0.1
#: The landmark model's hand-presence score below which the hand is lost.
HAND_PRESENCE = 0.5
#: The palm search crop around the face: this many face-crop sizes (the face mesh's ROI).
SEARCH_SCALE = 1.6


@dataclasses.dataclass(frozen=True, eq=False)
class Hand:
    """21 hand landmarks (x, y, z) in image pixels, the presence score and the crop used."""

    points: npt.NDArray[np.float32]
    presence: float
    roi: Roi


# ----------------------------------------------------------------------------- pure parts


@functools.lru_cache(maxsize=1)
def palm_anchors() -> npt.NDArray[np.float64]:
    """The palm detector's 2016 anchor centres in [0, 1] (24x24 x2, then 12x12 x6)."""
    return ssd_anchors(PALM).astype(np.float64)


def decode_palms(
    raw: npt.ArrayLike, anchors: npt.NDArray[np.float64], scale: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Boxes (N, 4) as x0, y0, x1, y1 and keypoints (N, 7, 2), in [0, 1] coordinates.

    Each raw row is 18 numbers in model pixels: box centre offset from its anchor (2),
    box size (2), then seven keypoint offsets (wrist, knuckles, thumb joints)."""
    values = np.asarray(raw, dtype=np.float64).reshape(-1, 18)
    centre = values[:, 0:2] / scale + anchors
    half = values[:, 2:4] / scale / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = values[:, 4:18].reshape(-1, 7, 2) / scale + anchors[:, None, :]
    return boxes, keypoints


def _turned(rotation: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(rotation), math.sin(rotation)
    return np.array([[c, -s], [s, c]])


def upright_rotation(wrist: npt.ArrayLike, middle: npt.ArrayLike) -> float:
    """The crop rotation (angle of its x axis in the image, y down) that makes the
    wrist -> middle-finger direction point straight up in the crop."""
    d = np.asarray(middle, dtype=np.float64) - np.asarray(wrist, dtype=np.float64)
    angle = math.atan2(float(d[1]), float(d[0])) + math.pi / 2
    return angle - 2 * math.pi if angle > math.pi else angle


def rect_roi(
    centre: npt.ArrayLike, width: float, height: float, rotation: float, scale: float, shift: float
) -> Roi:
    """A rotated box moved `shift` box heights along its own y axis (negative: toward the
    fingers), made square on its long side and grown `scale` times."""
    c = np.asarray(centre, dtype=np.float64) + _turned(rotation) @ np.array([0.0, shift * height])
    return Roi(float(c[0]), float(c[1]), float(max(width, height) * scale), rotation)


def palm_roi(box: npt.ArrayLike, keypoints: npt.ArrayLike) -> Roi:
    """The hand crop for a palm detection (image pixels)."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).ravel())
    kp = np.asarray(keypoints, dtype=np.float64)
    rotation = upright_rotation(kp[PALM_WRIST], kp[PALM_MIDDLE])
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    return rect_roi(centre, x1 - x0, y1 - y0, rotation, PALM_ROI_SCALE, PALM_ROI_SHIFT)


def roi_from_hand(points: npt.ArrayLike) -> Roi:
    """The next frame's hand crop from this frame's landmarks: the palm and lower finger
    joints' box in the hand's own frame (wrist -> knuckles up), grown and shifted."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    knuckles = 0.25 * (xy[INDEX_MCP] + xy[RING_MCP]) + 0.5 * xy[MIDDLE_MCP]
    rotation = upright_rotation(xy[WRIST], knuckles)
    turn = _turned(rotation)
    upright = xy[list(TRACK_POINTS)] @ turn  # rows times R == R^T applied
    low, high = upright.min(axis=0), upright.max(axis=0)
    centre = turn @ ((low + high) / 2)
    width, height = (high - low).tolist()
    return rect_roi(centre, width, height, rotation, TRACK_ROI_SCALE, TRACK_ROI_SHIFT)


def search_box(
    face_roi: Roi, frame_shape: tuple[int, int], scale: float = SEARCH_SCALE
) -> tuple[int, int, int]:
    """The square (x, y, side) searched for palms around a face: `scale` face crops wide,
    centred on the face, as far inside the frame as its size allows."""
    height, width = frame_shape
    side = int(min(max(face_roi.size * scale, 32.0), width, height))
    x = int(min(max(face_roi.cx - side / 2, 0), width - side))
    y = int(min(max(face_roi.cy - side / 2, 0), height - side))
    return x, y, side


def finger_width(points: npt.ArrayLike) -> float:
    """A finger's width, pixels: a quarter of the knuckle line (index to little finger)."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    return 0.25 * float(np.linalg.norm(xy[INDEX_MCP] - xy[PINKY_MCP]))


def hand_reach(points: npt.ArrayLike, grow: float = 0.35, feather: float = 0.3) -> float:
    """How far, pixels, `hand_mask` reaches beyond the hand's landmarks."""
    return (0.5 + grow + 2.0 * feather) * max(finger_width(points), 1.0) + 2.0


def hand_box(
    hands: list[npt.NDArray[np.float32]] | tuple[npt.NDArray[np.float32], ...],
    box: tuple[int, int, int, int],
) -> tuple[int, int, int, int] | None:
    """The part of `box` (x0, y0, x1, y1) that `hand_mask` can cover, or None."""
    x0, y0, x1, y1 = box
    lo = np.array([x1, y1], dtype=np.float64)
    hi = np.array([x0, y0], dtype=np.float64)
    for points in hands:
        xy = np.asarray(points, dtype=np.float64)[:, :2]
        reach = hand_reach(points)
        lo = np.minimum(lo, xy.min(axis=0) - reach)
        hi = np.maximum(hi, xy.max(axis=0) + reach)
    bx0, by0 = max(math.floor(lo[0]), x0), max(math.floor(lo[1]), y0)
    bx1, by1 = min(math.ceil(hi[0]) + 1, x1), min(math.ceil(hi[1]) + 1, y1)
    return (bx0, by0, bx1, by1) if bx1 > bx0 and by1 > by0 else None


def hand_mask(
    shape: tuple[int, int],
    hands: list[npt.NDArray[np.float32]] | tuple[npt.NDArray[np.float32], ...],
    origin: tuple[int, int] = (0, 0),
    grow: float = 0.35,
    feather: float = 0.3,
) -> npt.NDArray[np.float32]:
    """Coverage in [0, 1] over a `shape` patch at `origin` (x, y): each hand's palm polygon
    and fingers drawn as thick segments (a finger wide), grown by `grow` finger widths
    each side, then feathered outward over 2 x `feather` finger widths, so it is 1 on the
    hand and a little around it."""
    widths = [max(finger_width(points), 1.0) for points in hands]
    blur = max((round(feather * w) for w in widths), default=0)
    # Drawn with a margin, so the mask does not depend on where the patch is cut.
    pad = 2 * blur + 1
    mask = np.zeros((shape[0] + 2 * pad, shape[1] + 2 * pad), dtype=np.uint8)
    shift = np.asarray(origin, dtype=np.float64) - pad
    for points, width in zip(hands, widths, strict=True):
        xy = np.asarray(points, dtype=np.float64)[:, :2] - shift
        fixed = np.round(xy * 16).astype(np.int32)
        # Lines grown by the blur radius too (round caps), so the box blur's falloff
        # lies outside the grown hand and the hand itself stays at 1.
        thick = max(round(width * (1.0 + 2.0 * grow)) + 2 * blur, 1)
        cv2.fillPoly(mask, [fixed[list(PALM_LOOP)]], 255, cv2.LINE_8, 4)
        cv2.polylines(mask, [fixed[list(PALM_LOOP)]], True, 255, thick, cv2.LINE_8, 4)
        for chain in FINGERS:
            cv2.polylines(mask, [fixed[list(chain)]], False, 255, thick, cv2.LINE_8, 4)
    if blur >= 1:
        mask = np.asarray(cv2.blur(mask, (2 * blur + 1, 2 * blur + 1)), dtype=np.uint8)
    mask = mask[pad : pad + shape[0], pad : pad + shape[1]]
    return mask.astype(np.float32) * np.float32(1.0 / 255.0)


# ----------------------------------------------------------------------------- models


def hand_crop(rgb: npt.NDArray[np.uint8], roi: Roi, size: int = HAND_INPUT) -> np.ndarray:
    """The (1, size, size, 3) float32 landmark input in [0, 1], black outside the frame."""
    matrix = cv2.invertAffineTransform(crop_to_image(roi, size))
    patch = cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return (patch.astype(np.float32) * np.float32(1.0 / 255.0))[None]


def run_hand(session: Session, rgb: npt.NDArray[np.uint8], roi: Roi) -> Hand:
    """The landmark model on one hand crop, its 21 points mapped back to the image."""
    outputs = run_single_input(session, hand_crop(rgb, roi))
    # Outputs in the model's order: landmarks, presence, handedness, world landmarks.
    raw = pick_output(outputs[:1], HAND_POINTS * 3).reshape(HAND_POINTS, 3)
    presence = float(pick_output(outputs[1:2], 1).ravel()[0])
    return Hand(crop_points_to_image(raw, roi, HAND_INPUT), presence, roi)


def palm_input(rgb: npt.NDArray[np.uint8], box: tuple[int, int, int]) -> tuple[np.ndarray, float]:
    """The palm detector's (1, 192, 192, 3) input in [0, 1] from the square `box`
    (x, y, side) of the frame, and the model pixels per frame pixel."""
    x, y, side = box
    patch = cv2.resize(
        np.ascontiguousarray(rgb[y : y + side, x : x + side]),
        (PALM.input_size, PALM.input_size),
        interpolation=cv2.INTER_AREA,
    )
    return (patch.astype(np.float32) * np.float32(1.0 / 255.0))[None], PALM.input_size / side


def detect_palms(
    session: Session, rgb: npt.NDArray[np.uint8], box: tuple[int, int, int]
) -> list[tuple[Roi, float]]:
    """Hand crops of the palms found in the square `box` of the frame, best first."""
    tensor, zoom = palm_input(rgb, box)
    outputs = run_single_input(session, tensor)
    raw = next(o for o in outputs if o.shape[-1] == 18).reshape(-1, 18)
    scores = sigmoid_scores(next(o for o in outputs if o.shape[-1] == 1).reshape(-1), 100.0)
    keep = scores >= PALM.score_threshold
    if not keep.any():
        return []
    boxes, keypoints = decode_palms(raw[keep], palm_anchors()[keep], PALM.input_size)
    size = PALM.input_size
    shift = np.array([box[0], box[1]], dtype=np.float64)
    found = []
    for b, k, score in weighted_nms(boxes, keypoints, scores[keep]):
        # [0, 1] model coordinates -> frame pixels (continuous model pixel u is u - 0.5).
        corners = b.reshape(2, 2) * size / zoom - 0.5 + shift
        points = (k * size) / zoom - 0.5 + shift
        found.append((palm_roi(corners.ravel(), points), score))
    return found


# ----------------------------------------------------------------------------- tracking

#: While no hand is followed, a probe runs on every PROBE_EVERY-th frame with a face,
#: in turn from PROBES: the landmark model on a face-sized crop centred on the chin
#: (where a hand raised to the face almost always is) or on the nose tip (fingers over
#: the nose and eyes). "palm" (the palm detector over the face's surroundings, twice the
#: cost of a landmark run) may be added; on the demo clip it misses most hand frames,
#: whose palm is below the picture.
PROBE_EVERY = 15
PROBES: tuple[str, ...] = ("chin", "chin", "nose")
#: A followed hand's landmarks are measured on every TRACK_EVERY-th frame; in between
#: the last points stand (the mask's margin covers the move; moving them on at the
#: measured speed lost the hand more often on the demo clip: landmarks jitter).
TRACK_EVERY = 2
#: A hand whose box is further than this many face crops from the face is dropped.
FACE_REACH = 0.75
#: Mesh points the landmark probes are centred on.
PROBE_POINTS: dict[str, int] = {"chin": 152, "nose": 1}


def face_probe(face_points: npt.ArrayLike, face_roi: Roi, where: str) -> Roi:
    """A probe crop: the face crop's size and roll, centred on mesh point PROBE_POINTS[where]."""
    centre = np.asarray(face_points, dtype=np.float64)[PROBE_POINTS[where], :2]
    return Roi(float(centre[0]), float(centre[1]), face_roi.size, face_roi.rotation)


def near_face(points: npt.ArrayLike, face_roi: Roi, reach: float = FACE_REACH) -> bool:
    """Whether the hand's box comes within `reach` face crops of the face crop's centre."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    low, high = xy.min(axis=0), xy.max(axis=0)
    nearest = np.clip([face_roi.cx, face_roi.cy], low, high)
    return bool(np.hypot(*(nearest - [face_roi.cx, face_roi.cy])) <= reach * face_roi.size)


@dataclasses.dataclass(frozen=True)
class HandModels:
    """The hand landmark model's session, and the palm detector's when it was asked for
    (only the "palm" probe uses it; the default probes do not)."""

    landmarks: Session
    palm: Session | None = None


def load_hand_models(device: str = "auto", threads: int = 1, palm: bool = False) -> HandModels:
    """Fetch and convert the hand models if needed (shared cache) and open a session for
    the landmark model, and for the palm detector too with `palm`."""
    from facedubd.models import ensure_models
    from facedubd.models.sessions import create_session
    from facedubd.models.tune import tuned_copy

    paths = ensure_models(list(HAND_MODEL_NAMES if palm else (HAND_MODEL,)))

    def session(name: str) -> Session:
        return create_session(tuned_copy(name, paths[name]), device, threads, reuse_optimized=True)

    models = HandModels(session(HAND_MODEL), session(PALM.name) if palm else None)
    # One run each now: a session's first run costs twice a later one.
    blank = np.zeros((64, 64, 3), np.uint8)
    if models.palm is not None:
        detect_palms(models.palm, blank, (0, 0, 64))
    run_hand(models.landmarks, blank, Roi(32.0, 32.0, 64.0, 0.0))
    return models


def photo_hands(
    models: HandModels, rgb: npt.NDArray[np.uint8], face_points: npt.ArrayLike
) -> tuple[np.ndarray, ...]:
    """The hands over or beside the face of a still photo (21 x 3 points each), found
    by the palm detector around the face (`models` must have it) and measured by the
    landmark model on the palm's crop, then once more on the hand's own crop. A photo
    is one image: the detector's cost (a few landmark runs) is paid once a job."""
    if models.palm is None:
        raise ValueError("photo_hands needs load_hand_models(..., palm=True)")
    from facedubd.pipeline.face.mesh import roi_from_points

    face_roi = roi_from_points(np.asarray(face_points, dtype=np.float64))
    found = []
    for roi, _ in detect_palms(models.palm, rgb, search_box(face_roi, rgb.shape[:2]))[:2]:
        hand = run_hand(models.landmarks, rgb, roi)
        if hand.presence < HAND_PRESENCE or not near_face(hand.points, face_roi):
            continue
        refit = run_hand(models.landmarks, rgb, roi_from_hand(hand.points))
        found.append(refit.points if refit.presence >= HAND_PRESENCE else hand.points)
    return tuple(found)


class HandTracker:
    """Follows one hand near a tracked face: `update(rgb, face)` per frame, in order."""

    def __init__(
        self,
        models: HandModels,
        *,
        probe_every: int = PROBE_EVERY,
        probes: tuple[str, ...] = PROBES,
        track_every: int = TRACK_EVERY,
    ) -> None:
        if "palm" in probes and models.palm is None:
            raise ValueError("the palm probe needs load_hand_models(..., palm=True)")
        self._models = models
        self._probe_every = max(1, probe_every)
        self._sequence = probes
        self._track_every = max(1, track_every)
        self._hand: Hand | None = None
        self._since_probe = self._probe_every - 1  # probe on the first face frame
        self._probes = 0
        self._age = 0
        self.frames = 0
        self.model_runs = 0
        self.palm_runs = 0
        self.frames_with_hand = 0

    def update(self, rgb: npt.NDArray[np.uint8], face: Mesh | None) -> tuple[np.ndarray, ...]:
        """The hands (21 x 3 points each) over or near this frame's face; () if none."""
        self.frames += 1
        if face is None:
            self._hand = None
            return ()
        hand = self._follow(rgb, face) if self._hand is not None else self._probe(rgb, face)
        self._hand = hand
        if hand is None:
            return ()
        self.frames_with_hand += 1
        return (hand.points,)

    def _follow(self, rgb: npt.NDArray[np.uint8], face: Mesh) -> Hand | None:
        assert self._hand is not None
        self._age += 1
        if self._age % self._track_every:
            return self._hand if near_face(self._hand.points, face.roi) else None
        hand = self._landmarks(rgb, roi_from_hand(self._hand.points), face)
        if hand is None:
            self._since_probe = self._probe_every - 1  # look again at once
            return None
        self._age = 0
        return hand

    def _probe(self, rgb: npt.NDArray[np.uint8], face: Mesh) -> Hand | None:
        self._since_probe += 1
        if self._since_probe < self._probe_every:
            return None
        self._since_probe = 0
        where = self._sequence[self._probes % len(self._sequence)]
        self._probes += 1
        if where == "palm":
            self.palm_runs += 1
            assert self._models.palm is not None  # checked in __init__
            palms = detect_palms(self._models.palm, rgb, search_box(face.roi, rgb.shape[:2]))
            rois = [roi for roi, _ in palms[:1]]
        else:
            rois = [face_probe(face.points, face.roi, where)]
        for roi in rois:
            hand = self._landmarks(rgb, roi, face)
            if hand is not None:
                # Refit the crop to the hand found (a probe's crop is only roughly placed).
                self._age = 0
                return self._landmarks(rgb, roi_from_hand(hand.points), face) or hand
        return None

    def _landmarks(self, rgb: npt.NDArray[np.uint8], roi: Roi, face: Mesh) -> Hand | None:
        self.model_runs += 1
        hand = run_hand(self._models.landmarks, rgb, roi)
        if hand.presence < HAND_PRESENCE or not near_face(hand.points, face.roi):
            return None
        return hand


@dataclasses.dataclass(frozen=True, eq=False)
class FaceWithHands(Mesh):
    """A tracked face plus the hands over or near it (21 x 3 image points each)."""

    hands: tuple[np.ndarray, ...] = ()


def attach_hands(face: Mesh, hands: tuple[np.ndarray, ...]) -> FaceWithHands:
    """The tracked face `face` carrying `hands`."""
    values = {f.name: getattr(face, f.name) for f in dataclasses.fields(Mesh)}
    return FaceWithHands(**values, hands=hands)


class FaceAndHandTracker:
    """A face tracker with a hand tracker riding on it: `update(rgb)` returns the face's
    mesh (a FaceWithHands) or None, like the face tracker it wraps."""

    def __init__(self, faces: object, hands: HandTracker) -> None:
        self.faces = faces
        self.hands = hands

    def update(self, rgb: npt.NDArray[np.uint8]) -> FaceWithHands | None:
        face = self.faces.update(rgb)  # type: ignore[attr-defined]
        found = self.hands.update(rgb, face)
        return None if face is None else attach_hands(face, found)

    def __getattr__(self, name: str) -> object:
        return getattr(self.faces, name)


def with_hands(
    faces: object, device: str = "auto", threads: int = 1, models: HandModels | None = None
) -> FaceAndHandTracker:
    """`faces` (a face tracker) with a hand tracker on the hand models riding on it
    (`models`: load_hand_models(device, threads) when the caller loaded them already)."""
    hand_models = load_hand_models(device, threads) if models is None else models
    return FaceAndHandTracker(faces, HandTracker(hand_models))
