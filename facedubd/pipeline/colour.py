"""Colour matching: mean/std transfer of luma and chroma (YCrCb) inside a mask, with
the statistics smoothed over time so the face does not flicker.

Why YCrCb rather than LAB: YCrCb is an affine function of RGB, so a per-channel gain
and offset there is one 3x4 matrix in RGB (a single `cv2.transform`), and the masked
statistics follow from the RGB mean and covariance. On this machine that is about ten
times cheaper per frame than two LAB conversions, and it separates light (Y) from skin
tone (Cr, Cb) just as well for this purpose.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]

#: RGB -> (Y, Cr, Cb) without offsets (BT.601, full range, as OpenCV's YCrCb).
RGB_TO_YCC = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.713 * 0.701, -0.713 * 0.587, -0.713 * 0.114],
        [-0.564 * 0.299, -0.564 * 0.587, 0.564 * 0.886],
    ]
)
YCC_TO_RGB = np.linalg.inv(RGB_TO_YCC)
#: OpenCV's YCrCb adds 128 to both chroma channels.
CHROMA_OFFSET = np.array([0.0, 128.0, 128.0])

#: The std ratio is clipped to this range so a noisy frame cannot blow the contrast up.
STD_RATIO_RANGE = (0.6, 1.6)


@dataclasses.dataclass(frozen=True)
class ColourStats:
    """Mean and std of Y, Cr, Cb over a region."""

    mean: FloatArray  # (3,)
    std: FloatArray  # (3,)


#: Statistics are taken on a grid of about this many pixels (every other row and column
#: at the least): plenty for a mean and a spread, and big faces cost no more.
STATS_SAMPLES = 16000


def colour_stats(image_rgb: Image, mask: npt.NDArray[np.bool_]) -> ColourStats | None:
    """Statistics of the masked pixels (None if the mask is empty), on every `step`-th
    row and column (see STATS_SAMPLES)."""
    h, w = mask.shape
    step = max(2, round(math.sqrt(h * w / STATS_SAMPLES)))
    hs, ws = h // step, w // step
    if hs == 0 or ws == 0:
        return None
    # Nearest-neighbour resizing by a whole factor picks exactly every step-th pixel,
    # several times faster than copying a strided numpy view.
    size = (ws, hs)
    cut = (slice(0, hs * step), slice(0, ws * step))
    small_mask = cv2.resize(mask[cut].view(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    if not small_mask.any():
        return None
    small = cv2.resize(image_rgb[cut], size, interpolation=cv2.INTER_NEAREST)
    ycc = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb)
    mean, std = cv2.meanStdDev(ycc, mask=small_mask)
    return ColourStats(
        np.asarray(mean, np.float64).ravel() - CHROMA_OFFSET,
        np.asarray(std, np.float64).ravel() + 1e-3,
    )


def transfer_matrix(source: ColourStats, target: ColourStats) -> FloatArray:
    """The 3x4 RGB matrix that gives `source`'s pixels `target`'s statistics."""
    gain = np.clip(target.std / source.std, *STD_RATIO_RANGE)
    linear = YCC_TO_RGB @ np.diag(gain) @ RGB_TO_YCC
    offset = YCC_TO_RGB @ (target.mean - gain * source.mean)
    return np.column_stack([linear, offset])


def transfer(image_rgb: Image, source: ColourStats, target: ColourStats) -> Image:
    """`image_rgb` (whose statistics are `source`) recoloured to have `target`'s."""
    matrix = transfer_matrix(source, target)
    return np.asarray(cv2.transform(image_rgb, matrix), dtype=np.uint8)


class SmoothedTransfer:
    """Exponential moving average of the source and target statistics.

    `alpha` is the weight of the newest frame: 1 = no smoothing. Smoothing both sides
    keeps the correction stable while lighting drifts slowly, which is what stops flicker.
    """

    def __init__(self, alpha: float = 0.15) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self.source: ColourStats | None = None
        self.target: ColourStats | None = None

    def reset(self) -> None:
        self.source = None
        self.target = None

    def _blend(self, old: ColourStats | None, new: ColourStats) -> ColourStats:
        if old is None:
            return new
        a = self.alpha
        return ColourStats(old.mean + a * (new.mean - old.mean), old.std + a * (new.std - old.std))

    def update(self, source: ColourStats, target: ColourStats) -> tuple[ColourStats, ColourStats]:
        self.source = self._blend(self.source, source)
        self.target = self._blend(self.target, target)
        return self.source, self.target

    def __call__(
        self, image_rgb: Image, mask: npt.NDArray[np.bool_], reference_rgb: Image
    ) -> Image:
        """Recolour `image_rgb` so its masked region matches `reference_rgb`'s."""
        src = colour_stats(image_rgb, mask)
        dst = colour_stats(reference_rgb, mask)
        if src is None or dst is None:
            return image_rgb
        s, t = self.update(src, dst)
        return transfer(image_rgb, s, t)
