"""How steady tracked landmarks are: frame-to-frame jitter on still stretches.

"Still" is defined from the motion of the whole head, not of the points being judged:
the head's position is the mean of all 468 mesh points, smoothed with a centred moving
average over STILL_WINDOW frames (about 0.4 s at 24 fps) so that jitter does not count
as motion; a pair of consecutive frames is still when that smoothed position moves less
than STILL_SPEED (a share of the inter-ocular distance) between them. Jitter is the
mean frame-to-frame displacement of the chosen points over still pairs, as a share of
the inter-ocular distance."""

from __future__ import annotations

import dataclasses

import numpy as np

from facedubd.pipeline.face import landmarks as lm

STILL_WINDOW = 9
STILL_SPEED = 0.003
JITTER_POINTS: tuple[int, ...] = (
    lm.RIGHT_EYE_OUTER,
    lm.RIGHT_EYE_INNER,
    lm.LEFT_EYE_INNER,
    lm.LEFT_EYE_OUTER,
    lm.NOSE_TIP,
)


@dataclasses.dataclass(frozen=True)
class Jitter:
    """mean: jitter as a share of the inter-ocular distance; still_pairs: how many
    consecutive-frame pairs were still; pairs: how many pairs had a face in both frames."""

    mean: float
    still_pairs: int
    pairs: int


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0 of (T, D) values; edges repeat the end value."""
    half = window // 2
    padded = np.pad(values, ((half, half), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack(
        [np.convolve(padded[:, i], kernel, mode="valid") for i in range(values.shape[1])], axis=1
    )


def track_jitter(
    points: np.ndarray,
    *,
    window: int = STILL_WINDOW,
    still_speed: float = STILL_SPEED,
    indices: tuple[int, ...] = JITTER_POINTS,
) -> Jitter:
    """Jitter of a (T, 468, 2 or 3) track; frames without a face are NaN and break pairs.

    Still stretches are judged within runs of frames that all have a face."""
    have = ~np.isnan(points[:, 0, 0])
    steps: list[float] = []
    pairs = 0
    for start, stop in _runs(have):
        run = points[start:stop, :, :2].astype(np.float64)
        if len(run) < 2:
            continue
        iod = np.linalg.norm(run[:, lm.LEFT_EYE_OUTER] - run[:, lm.RIGHT_EYE_OUTER], axis=1)
        head = moving_average(run.mean(axis=1), min(window, len(run)))
        speed = np.linalg.norm(np.diff(head, axis=0), axis=1) / iod[1:]
        moves = np.linalg.norm(np.diff(run[:, list(indices)], axis=0), axis=2).mean(axis=1)
        steps.extend((moves / iod[1:])[speed < still_speed].tolist())
        pairs += len(run) - 1
    return Jitter(float(np.mean(steps)) if steps else float("nan"), len(steps), pairs)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True values."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))
