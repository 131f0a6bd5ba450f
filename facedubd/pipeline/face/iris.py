"""Where the eyes look: MediaPipe's iris landmark model on the eyes of a face mesh.

Each eye is cut out as MediaPipe does: a square IRIS_CROP_SCALE times the distance
between the eye's corners, turned so the corner line is level, into the model's 64 x 64
input. The model knows one eye; the other eye's crop is mirrored first (and its points
mirrored back). Of its outputs only the 5 iris points are used: the centre and four
points on the iris's edge.

The gaze is the iris centre in the eye's own corner frame (`EyeGaze`): the origin half
way between the corners, x along the corner line toward the image's right-hand corner,
y perpendicular to it (down on an upright face), in corner distances, plus the iris
radius in the same unit. These numbers compare across faces of any size, roll and
place, so the dub can put the character's iris where the reference's is.

Points are image pixels with pixel (0, 0)'s centre at (0, 0), as in `mesh.py`."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from facedubd.pipeline.face import landmarks as lm
from facedubd.pipeline.face.hands import FaceWithHands
from facedubd.pipeline.face.mesh import Mesh, Roi, angle_between, crop, crop_points_to_image
from facedubd.pipeline.face.session import Session, pick_output, run_single_input

IRIS_MODEL = "iris_landmark"
IRIS_INPUT = 64
IRIS_POINTS = 5
#: The eye crop's side in corner distances (MediaPipe's eye ROI).
IRIS_CROP_SCALE = 2.3
#: Eye corners per eye, (image-left corner, image-right corner) on an upright face:
#: the subject's right eye, then the subject's left eye.
EYE_CORNERS: tuple[tuple[int, int], tuple[int, int]] = (
    (lm.RIGHT_EYE_OUTER, lm.RIGHT_EYE_INNER),
    (lm.LEFT_EYE_INNER, lm.LEFT_EYE_OUTER),
)
#: Which eye's crop is mirrored before the model sees it (index into EYE_CORNERS).
MIRRORED_EYE = 1
#: The gaze is measured on every GAZE_EVERY-th frame (one eye at a time).
GAZE_EVERY = 1
#: An eye narrower than this (corner to corner, pixels) is not measured.
MIN_EYE_PX = 6.0

Points = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class EyeGaze:
    """One iris in its eye's corner frame: centre (x, y) and radius, in corner distances."""

    x: float
    y: float
    radius: float

    def as_array(self) -> Points:
        return np.array([self.x, self.y, self.radius], dtype=np.float64)


#: Both eyes (the subject's right, then left); None for an eye not measured.
Gaze = tuple[EyeGaze | None, EyeGaze | None]


# ----------------------------------------------------------------------------- pure parts


def corner_frame(left: npt.ArrayLike, right: npt.ArrayLike) -> tuple[Points, Points, float]:
    """An eye's frame from its two corners (image points): origin (the midpoint), the
    unit vector along the corner line (left -> right corner) and the corner distance."""
    a = np.asarray(left, dtype=np.float64)[:2]
    b = np.asarray(right, dtype=np.float64)[:2]
    width = float(np.linalg.norm(b - a))
    along = (b - a) / max(width, 1e-9)
    return (a + b) / 2, along, width


def to_eye(point: npt.ArrayLike, left: npt.ArrayLike, right: npt.ArrayLike) -> Points:
    """An image point in the eye's corner frame (x along, y across, corner distances)."""
    origin, along, width = corner_frame(left, right)
    across = np.array([-along[1], along[0]])  # along turned 90 degrees: down when level
    d = np.asarray(point, dtype=np.float64)[:2] - origin
    return np.array([d @ along, d @ across]) / max(width, 1e-9)


def from_eye(xy: npt.ArrayLike, left: npt.ArrayLike, right: npt.ArrayLike) -> Points:
    """The image point at corner-frame coordinates `xy` (the inverse of `to_eye`)."""
    origin, along, width = corner_frame(left, right)
    across = np.array([-along[1], along[0]])
    x, y = np.asarray(xy, dtype=np.float64)[:2]
    return np.asarray(origin + width * (x * along + y * across), dtype=np.float64)


def eye_gaze(iris: npt.ArrayLike, left: npt.ArrayLike, right: npt.ArrayLike) -> EyeGaze:
    """The gaze of one eye from its 5 iris points (image pixels: centre, then four on
    the edge) and its corners: the centre in the corner frame, the mean edge distance
    over the corner distance as the radius."""
    pts = np.asarray(iris, dtype=np.float64)[:, :2]
    _, _, width = corner_frame(left, right)
    x, y = to_eye(pts[0], left, right)
    radius = float(np.linalg.norm(pts[1:] - pts[0], axis=1).mean()) / max(width, 1e-9)
    return EyeGaze(float(x), float(y), radius)


def eye_roi(left: npt.ArrayLike, right: npt.ArrayLike, scale: float = IRIS_CROP_SCALE) -> Roi:
    """The model's crop for an eye with these corners: centred between them, level with
    them, `scale` corner distances across."""
    a = np.asarray(left, dtype=np.float64)[:2]
    b = np.asarray(right, dtype=np.float64)[:2]
    origin, _, width = corner_frame(a, b)
    return Roi(float(origin[0]), float(origin[1]), width * scale, angle_between(a, b))


def mirror_crop_points(points: npt.ArrayLike, size: int = IRIS_INPUT) -> Points:
    """Points found in a horizontally mirrored crop, put back in the unmirrored crop
    (continuous crop coordinates: x -> size - x)."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[:, 0] = size - out[:, 0]
    return out


# ----------------------------------------------------------------------------- the model


def run_iris(
    session: Session, rgb: npt.NDArray[np.uint8], left: npt.ArrayLike, right: npt.ArrayLike,
    mirrored: bool,
) -> Points:  # fmt: skip
    """The 5 iris points (image pixels, x y z) of the eye with these corners."""
    roi = eye_roi(left, right)
    tensor = crop(rgb, roi, IRIS_INPUT)
    if mirrored:
        tensor = np.ascontiguousarray(tensor[:, :, ::-1])
    raw = pick_output(run_single_input(session, tensor), IRIS_POINTS * 3)
    points = raw.reshape(IRIS_POINTS, 3).astype(np.float64)
    if mirrored:
        points = mirror_crop_points(points)
    return np.asarray(crop_points_to_image(points, roi, IRIS_INPUT), dtype=np.float64)


def measure_eye(
    session: Session, rgb: npt.NDArray[np.uint8], face_points: npt.ArrayLike, index: int
) -> EyeGaze | None:
    """One eye's gaze (`index` into EYE_CORNERS) on a face mesh's eye corners; None
    for an eye under MIN_EYE_PX across."""
    pts = np.asarray(face_points, dtype=np.float64)
    a, b = EYE_CORNERS[index]
    left, right = pts[a, :2], pts[b, :2]
    if np.linalg.norm(right - left) < MIN_EYE_PX:
        return None
    iris = run_iris(session, rgb, left, right, mirrored=index == MIRRORED_EYE)
    return eye_gaze(iris, left, right)


def measure_gaze(session: Session, rgb: npt.NDArray[np.uint8], face_points: npt.ArrayLike) -> Gaze:
    """Both eyes' gaze (the subject's right, then left) on a face mesh's eye corners."""
    return (measure_eye(session, rgb, face_points, 0), measure_eye(session, rgb, face_points, 1))


def load_iris_model(device: str = "auto", threads: int = 1) -> Session:
    """Fetch and convert the iris model if needed (shared cache) and open its session."""
    from facedubd.models import ensure_models
    from facedubd.models.sessions import create_session
    from facedubd.models.tune import tuned_copy

    path = ensure_models([IRIS_MODEL])[IRIS_MODEL]
    session = create_session(tuned_copy(IRIS_MODEL, path), device, threads, reuse_optimized=True)
    # One run now: a session's first run costs twice a later one.
    blank = np.zeros((IRIS_INPUT, IRIS_INPUT, 3), np.uint8)
    run_iris(session, blank, (16.0, 32.0), (48.0, 32.0), mirrored=False)
    return session


# ----------------------------------------------------------------------------- tracking


def gaze_of(mesh: object) -> Gaze | None:
    """The gaze a tracked face carries (None for a bare mesh or point array)."""
    return getattr(mesh, "gaze", None)


class GazeTracker:
    """Measures the gaze on each tracked face: `update(rgb, face)` per frame, in order.

    The gaze is measured on every `every`-th frame (the last values stand in between),
    and with `alternate` one eye at a time, in turn. The defaults (every frame, alternate
    eyes: one iris run per frame, each eye's value at most a frame old) halve the cost
    of both eyes on every frame. On the demo clip (tests/e2e/test_gaze.py) the output's
    read-back gaze follows the reference's at r 0.94 across, 0.69 up and down; with
    `every=2` (a quarter of the cost, each eye up to 3 frames old) at 0.87 and 0.65.

    An eye whose openness (`lm.eye_openness`) is under its `shut_below` value is not
    measured (its last value stands; the other eye is measured in its place): the dub
    shows the reference's own lids over such an eye, so no iris of the character's is
    seen there, and an iris between nearly shut lids is the model's guess."""

    def __init__(
        self,
        session: Session,
        *,
        alternate: bool = True,
        every: int = GAZE_EVERY,
        shut_below: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self._session = session
        self._shut_below = shut_below
        self._alternate = alternate
        self._every = max(1, every)
        self._last: list[EyeGaze | None] = [None, None]
        self._turn = 0
        self.frames = 0
        self.model_runs = 0

    def update(self, rgb: npt.NDArray[np.uint8], face: Mesh | None) -> Gaze | None:
        self.frames += 1
        if face is None:
            self._last = [None, None]
            return None
        if (self.frames - 1) % self._every and None not in self._last:
            return (self._last[0], self._last[1])
        pts = np.asarray(face.points, dtype=np.float64)
        openness = lm.eye_openness(pts) if any(self._shut_below) else (1.0, 1.0)
        measured = False
        for index in (self._turn, 1 - self._turn):
            if openness[index] < self._shut_below[index]:
                continue
            if self._alternate and measured and self._last[index] is not None:
                continue
            self.model_runs += 1
            self._last[index] = measure_eye(self._session, rgb, pts, index)
            measured = True
        self._turn = 1 - self._turn
        return (self._last[0], self._last[1])


@dataclasses.dataclass(frozen=True, eq=False)
class FaceWithGaze(FaceWithHands):
    """A tracked face (with the hands over it, if any) and its gaze."""

    gaze: Gaze | None = None


def attach_gaze(face: Mesh, gaze: Gaze | None) -> FaceWithGaze:
    """The tracked face `face` (a Mesh or a FaceWithHands) carrying `gaze`."""
    values = {f.name: getattr(face, f.name) for f in dataclasses.fields(face) if f.name != "gaze"}
    return FaceWithGaze(**values, gaze=gaze)


class FaceAndGazeTracker:
    """A face tracker (or face and hand tracker) with a gaze tracker riding on it:
    `update(rgb)` returns the face (a FaceWithGaze) or None, like the tracker it wraps."""

    def __init__(self, faces: object, gaze: GazeTracker) -> None:
        self.faces = faces
        self.gaze = gaze

    def update(self, rgb: npt.NDArray[np.uint8]) -> FaceWithGaze | None:
        face = self.faces.update(rgb)  # type: ignore[attr-defined]
        found = self.gaze.update(rgb, face)
        return None if face is None else attach_gaze(face, found)

    def __getattr__(self, name: str) -> object:
        return getattr(self.faces, name)


def with_gaze(
    faces: object,
    device: str = "auto",
    threads: int = 1,
    session: Session | None = None,
    shut_below: tuple[float, float] = (0.0, 0.0),
) -> FaceAndGazeTracker:
    """`faces` (a tracker) with a gaze tracker on the iris model riding on it
    (`session`: load_iris_model(device, threads) when the caller loaded it already;
    `shut_below`: see GazeTracker)."""
    model = load_iris_model(device, threads) if session is None else session
    return FaceAndGazeTracker(faces, GazeTracker(model, shut_below=shut_below))
