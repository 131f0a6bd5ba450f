"""Follow one face through video frames.

Each frame's mesh crop comes from the previous frame's mesh; the detector runs only
when there is no track yet or the mesh model says the face is gone (presence under
PRESENCE_THRESHOLD). When several faces are detected, the one nearest the last tracked
face is taken (the best-scoring one when nothing was tracked yet). A tracker started
with an `anchor` (where the chosen person's face was, e.g. at the keyframe) and a
`max_jump` never takes a face further than `max_jump` face sizes from where its face was
last seen: when its person leaves, it finds nothing rather than another person, and it
picks its person up again when they come back near where they left.

The search for a lost face is sized to the face: one last seen large (at least
BIG_FACE_FRACTION of the frame's long side across) is looked for in the whole frame only,
by both detector models; the tiles and the native-resolution crop around its last place,
which find small faces, would only repeat that search at several times its cost.

A new track starts only from a confirmed mesh (`confirmed_mesh`): the mesh model is
confident (presence >= ACQUIRE_PRESENCE; on real faces it saturates near 1) and the two
models agree on where the eyes, nose tip and mouth are (mean distance between the
detector's keypoints and the mesh's matching points <= MAX_DISAGREEMENT inter-ocular
distances; real faces measured 0.01-0.27, detector false alarms on lettering over 1)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from facedubd.pipeline.face import landmarks as lm
from facedubd.pipeline.face.detect import Detection, detect_faces
from facedubd.pipeline.face.loader import FaceModels
from facedubd.pipeline.face.mesh import (
    ROI_SCALE,
    Mesh,
    roi_from_detection,
    roi_from_points,
    run_mesh,
)

PRESENCE_THRESHOLD = 0.5
ACQUIRE_PRESENCE = 0.9
MAX_DISAGREEMENT = 0.5
#: The smallest crop searched around an anchored tracker's last face, pixels.
NEAR_CROP_MIN = 192
#: A lost face last seen at least this share of the frame's long side across is searched
#: for in the whole frame only (the short-range detector's own lower bound).
BIG_FACE_FRACTION = 0.2


def nearest_detection(
    detections: list[Detection], last_centre: tuple[float, float] | None
) -> Detection:
    """The detection whose box centre is nearest last_centre, or the first (best) one."""
    if last_centre is None:
        return detections[0]
    target = np.asarray(last_centre)
    distances = [float(np.linalg.norm(np.asarray(d.centre) - target)) for d in detections]
    return detections[int(np.argmin(distances))]


def keypoint_disagreement(detector_keypoints: np.ndarray, points: np.ndarray) -> float:
    """Mean distance, in inter-ocular distances, between the detector's right eye, left
    eye, nose tip and mouth centre and the same places on the mesh."""
    p = points[:, :2].astype(np.float64)
    on_mesh = np.array(
        [
            p[[lm.RIGHT_EYE_OUTER, lm.RIGHT_EYE_INNER]].mean(axis=0),
            p[[lm.LEFT_EYE_INNER, lm.LEFT_EYE_OUTER]].mean(axis=0),
            p[lm.NOSE_TIP],
            p[[lm.UPPER_INNER_LIP, lm.LOWER_INNER_LIP]].mean(axis=0),
        ]
    )
    iod = max(lm.inter_ocular_distance(points), 1e-6)
    return float(np.linalg.norm(on_mesh - detector_keypoints[:4], axis=1).mean() / iod)


def confirmed_mesh(
    models: FaceModels,
    rgb: np.ndarray,
    detection: Detection,
    *,
    min_presence: float = ACQUIRE_PRESENCE,
    max_disagreement: float = MAX_DISAGREEMENT,
) -> Mesh | None:
    """The mesh for a detection, or None when the mesh model does not confirm a face."""
    mesh = run_mesh(models.mesh, rgb, roi_from_detection(detection))
    if mesh.presence < min_presence:
        return None
    if keypoint_disagreement(detection.keypoints, mesh.points) > max_disagreement:
        return None
    return mesh


class FaceTracker:
    """Stateful: feed frames in order with update(); read frames and detector_runs."""

    def __init__(
        self,
        models: FaceModels,
        *,
        presence_threshold: float = PRESENCE_THRESHOLD,
        acquire_presence: float = ACQUIRE_PRESENCE,
        small: bool | Literal["auto"] = "auto",
        anchor: tuple[float, float, float] | None = None,
        max_jump: float | None = None,
        patience: int | None = None,
        retry_every: int = 1,
    ) -> None:
        """`patience` and `retry_every` bound the cost of a face that stays away: after
        `patience` frames in a row without a face, the detector (the dearest step, with its
        tiles and native-resolution crops) runs only on every `retry_every`-th frame. The
        default (no patience) searches every frame."""
        self._models = models
        self._presence_threshold = presence_threshold
        self._acquire_presence = acquire_presence
        self._small = small
        self._mesh: Mesh | None = None
        self._last_centre: tuple[float, float] | None = anchor[:2] if anchor else None
        self._last_size = anchor[2] if anchor else 0.0
        self._max_jump = max_jump
        self._patience = patience
        self._retry_every = max(1, retry_every)
        self._lost_for = 0
        self.frames = 0
        self.detector_runs = 0

    def update(self, rgb: np.ndarray) -> Mesh | None:
        """The face's mesh in this frame, or None when no face is found."""
        self.frames += 1
        mesh = self._follow(rgb) if self._mesh is not None else None
        if mesh is None and self._should_search():
            mesh = self._redetect(rgb)
        self._lost_for = 0 if mesh is not None else self._lost_for + 1
        self._mesh = mesh
        if mesh is not None:
            self._last_centre = (mesh.roi.cx, mesh.roi.cy)
            self._last_size = mesh.roi.size
        return mesh

    def _should_search(self) -> bool:
        if self._patience is None or self._lost_for < self._patience:
            return True
        return (self._lost_for - self._patience) % self._retry_every == 0

    def reset(self) -> None:
        """Forget the track (e.g. after a scene cut); the next frame runs the detector."""
        self._mesh = None
        self._last_centre = None

    def _search_near(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in a crop around where the face was last seen, at native resolution (a
        small face in a large frame shrinks to a few pixels in the whole-frame pass)."""
        assert self._last_centre is not None
        height, width = rgb.shape[:2]
        side = int(min(max(4 * self._last_size, NEAR_CROP_MIN), width, height))
        x = int(min(max(self._last_centre[0] - side / 2, 0), width - side))
        y = int(min(max(self._last_centre[1] - side / 2, 0), height - side))
        found = detect_faces(self._models, rgb[y : y + side, x : x + side], small=True)
        shift = np.array([x, y], dtype=np.float32)
        return [
            Detection(
                (d.box[0] + x, d.box[1] + y, d.box[2] + x, d.box[3] + y),
                d.keypoints + shift,
                d.score,
            )
            for d in found
        ]

    def _near_enough(self, detection: Detection) -> bool:
        if self._max_jump is None or self._last_centre is None:
            return True
        distance = float(np.hypot(*np.subtract(detection.centre, self._last_centre)))
        return distance <= self._max_jump * self._last_size

    def _follow(self, rgb: np.ndarray) -> Mesh | None:
        assert self._mesh is not None
        mesh = run_mesh(self._models.mesh, rgb, roi_from_points(self._mesh.points))
        return mesh if mesh.presence >= self._presence_threshold else None

    def _lost_face_was_big(self, rgb: np.ndarray) -> bool:
        """Whether the face was last seen large (its crop is ROI_SCALE face widths)."""
        face_width = self._last_size / ROI_SCALE
        return self._last_centre is not None and (
            face_width >= BIG_FACE_FRACTION * max(rgb.shape[:2])
        )

    def _redetect(self, rgb: np.ndarray) -> Mesh | None:
        self.detector_runs += 1
        big = self._lost_face_was_big(rgb)
        detections = detect_faces(self._models, rgb, small=self._small, tiles=not big)
        near = [d for d in detections if self._near_enough(d)]
        if not near and not big and self._max_jump is not None and self._last_centre is not None:
            near = [d for d in self._search_near(rgb) if self._near_enough(d)]
        if not near:
            return None
        chosen = nearest_detection(near, self._last_centre)
        return confirmed_mesh(self._models, rgb, chosen, min_presence=self._acquire_presence)
