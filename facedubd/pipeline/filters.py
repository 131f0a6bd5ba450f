"""Temporal smoothing of landmarks: the One-Euro filter (Casiez, Roussel and Vogel, 2012).

A low-pass filter whose cut-off rises with speed: still landmarks are smoothed hard
(no jitter), fast moves pass with little lag.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def smoothing_factor(cutoff_hz: float | FloatArray, rate_hz: float) -> FloatArray:
    """The exponential smoothing weight of a first-order low-pass at `cutoff_hz`."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return np.asarray(1.0 / (1.0 + tau * rate_hz), dtype=np.float64)


class OneEuroFilter:
    """One-Euro filter over arrays of points, shape (n, d), one speed per point.

    `min_cutoff` (Hz) sets the smoothing when still, `beta` how fast the cut-off rises
    with speed; speeds are measured in units of `scale` per second, so the same
    settings suit a small and a large face.
    """

    def __init__(
        self,
        rate_hz: float,
        min_cutoff: float = 1.0,
        beta: float = 1.0,
        d_cutoff: float = 1.0,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        self.rate_hz = rate_hz
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._value: FloatArray | None = None
        self._speed: FloatArray | None = None

    def reset(self) -> None:
        """Forget the past (after a cut or a lost face)."""
        self._value = None
        self._speed = None

    def __call__(self, points: npt.ArrayLike, scale: float = 1.0) -> FloatArray:
        x = np.asarray(points, dtype=np.float64)
        if self._value is None or self._value.shape != x.shape:
            self._value = x.copy()
            self._speed = np.zeros(x.shape[:1] + (1,) * (x.ndim - 1))
            return x.copy()
        assert self._speed is not None
        raw_speed = np.linalg.norm(x - self._value, axis=-1, keepdims=True) * self.rate_hz
        raw_speed /= max(scale, 1e-9)
        a_d = smoothing_factor(self.d_cutoff, self.rate_hz)
        self._speed = self._speed + a_d * (raw_speed - self._speed)
        a = smoothing_factor(self.min_cutoff + self.beta * self._speed, self.rate_hz)
        self._value = self._value + a * (x - self._value)
        return self._value.copy()
