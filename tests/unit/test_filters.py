"""The One-Euro filter: smooth when still, little lag when moving fast."""

from __future__ import annotations

import numpy as np
import pytest

from facedubd.pipeline.filters import OneEuroFilter, smoothing_factor


def test_smoothing_factor_rises_with_cutoff() -> None:
    assert 0 < float(smoothing_factor(0.5, 30)) < float(smoothing_factor(5.0, 30)) < 1


def test_still_noisy_points_are_smoothed() -> None:
    rng = np.random.default_rng(1)
    filt = OneEuroFilter(rate_hz=30, min_cutoff=1.0)
    truth = np.array([[100.0, 50.0], [120.0, 60.0]])
    raw = [truth + rng.normal(scale=1.0, size=truth.shape) for _ in range(120)]
    out = np.array([filt(r, scale=60.0) for r in raw])
    raw_jitter = np.abs(np.diff(np.array(raw), axis=0)).mean()
    out_jitter = np.abs(np.diff(out[20:], axis=0)).mean()
    print(f"still: raw jitter {raw_jitter:.3f} px, filtered {out_jitter:.3f} px")
    assert out_jitter < 0.3 * raw_jitter
    assert np.abs(out[-30:] - truth).mean() < 0.5


def test_fast_moves_lag_less_than_a_plain_low_pass() -> None:
    filt = OneEuroFilter(rate_hz=30, min_cutoff=1.0)
    plain = OneEuroFilter(rate_hz=30, min_cutoff=1.0, beta=0.0)
    t = np.arange(60) / 30
    path = np.stack([300 * t, np.zeros_like(t)], axis=1)[:, None, :]  # 300 px/s
    lag = np.array([p[0, 0] - filt(p, scale=60.0)[0, 0] for p in path])
    lag_plain = np.array([p[0, 0] - plain(p, scale=60.0)[0, 0] for p in path])
    print(f"fast: lag {lag[-1]:.2f} px vs plain low-pass {lag_plain[-1]:.2f} px")
    assert lag[-1] < 0.25 * lag_plain[-1]
    assert lag[-1] < 10.0  # less than one frame of motion


def test_first_value_passes_through_and_reset_forgets() -> None:
    filt = OneEuroFilter(rate_hz=25)
    first = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(filt(first), first)
    filt(first + 10)
    filt.reset()
    np.testing.assert_array_equal(filt(first + 50), first + 50)
    with pytest.raises(ValueError):
        OneEuroFilter(rate_hz=0)
