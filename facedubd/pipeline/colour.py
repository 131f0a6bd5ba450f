"""Colour matching: Reinhard-style LAB mean/std transfer inside a mask, with the
statistics smoothed over time so the face does not flicker."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]

#: The std ratio is clipped to this range so a noisy frame cannot blow the contrast up.
STD_RATIO_RANGE = (0.6, 1.6)


@dataclasses.dataclass(frozen=True)
class LabStats:
    mean: FloatArray  # (3,)
    std: FloatArray  # (3,)


def lab_stats(image_rgb: Image, mask: npt.NDArray[np.bool_]) -> LabStats | None:
    """Mean and std of each LAB channel over the masked pixels (None if the mask is empty)."""
    if not mask.any():
        return None
    lab = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2LAB)[mask].astype(np.float64)
    return LabStats(lab.mean(axis=0), lab.std(axis=0) + 1e-3)


def transfer(image_rgb: Image, source: LabStats, target: LabStats) -> Image:
    """`image_rgb` (whose statistics are `source`) recoloured to have `target`'s."""
    ratio = np.clip(target.std / source.std, *STD_RATIO_RANGE)
    lab = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    gain = ratio.astype(np.float32)
    offset = (target.mean - source.mean * ratio).astype(np.float32)
    lab = lab * gain + offset
    rgb = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return np.asarray(rgb, dtype=np.uint8)


class SmoothedTransfer:
    """Exponential moving average of the source and target statistics.

    `alpha` is the weight of the newest frame: 1 = no smoothing. Smoothing both sides
    keeps the correction stable while lighting drifts slowly, which is what stops flicker.
    """

    def __init__(self, alpha: float = 0.15) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self.source: LabStats | None = None
        self.target: LabStats | None = None

    def reset(self) -> None:
        self.source = None
        self.target = None

    def _blend(self, old: LabStats | None, new: LabStats) -> LabStats:
        if old is None:
            return new
        a = self.alpha
        return LabStats(old.mean + a * (new.mean - old.mean), old.std + a * (new.std - old.std))

    def update(self, source: LabStats, target: LabStats) -> tuple[LabStats, LabStats]:
        self.source = self._blend(self.source, source)
        self.target = self._blend(self.target, target)
        return self.source, self.target

    def __call__(
        self, image_rgb: Image, mask: npt.NDArray[np.bool_], reference_rgb: Image
    ) -> Image:
        """Recolour `image_rgb` so its masked region matches `reference_rgb`'s."""
        src = lab_stats(image_rgb, mask)
        dst = lab_stats(reference_rgb, mask)
        if src is None or dst is None:
            return image_rgb
        s, t = self.update(src, dst)
        return transfer(image_rgb, s, t)
