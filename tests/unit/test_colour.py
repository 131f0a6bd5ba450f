"""Luma/chroma (YCrCb) statistics transfer inside a mask, and its temporal smoothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facedubd.pipeline import colour


def _skin(rng: np.random.Generator, rgb: tuple[int, int, int], spread: float) -> np.ndarray:
    base = np.array(rgb, dtype=np.float64)
    img = base + rng.normal(scale=spread, size=(80, 80, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_transfer_matches_the_target_statistics_inside_the_mask() -> None:
    rng = np.random.default_rng(2)
    pale = _skin(rng, (230, 200, 190), 6)
    tan = _skin(rng, (150, 100, 70), 9)
    mask = np.zeros((80, 80), bool)
    mask[10:70, 10:70] = True
    src = colour.colour_stats(pale, mask)
    dst = colour.colour_stats(tan, mask)
    assert src is not None and dst is not None
    out = colour.transfer(pale, src, dst)
    got = colour.colour_stats(out, mask)
    assert got is not None
    print(f"mean YCrCb target {dst.mean.round(1)}, got {got.mean.round(1)}")
    np.testing.assert_allclose(got.mean, dst.mean, atol=2.0)
    assert np.abs(out.astype(int).mean(axis=(0, 1)) - tan.mean(axis=(0, 1))).max() < 4


def test_empty_mask_gives_no_statistics_and_no_change() -> None:
    img = np.full((10, 10, 3), 100, np.uint8)
    empty = np.zeros((10, 10), bool)
    assert colour.colour_stats(img, empty) is None
    smoother = colour.SmoothedTransfer()
    assert smoother(img, empty, img) is img


def test_smoothing_stops_a_one_frame_flash_from_flickering() -> None:
    rng = np.random.default_rng(4)
    face = _skin(rng, (200, 150, 130), 5)
    mask = np.ones((80, 80), bool)
    smooth = colour.SmoothedTransfer(alpha=0.15)
    raw = colour.SmoothedTransfer(alpha=1.0)
    lights = [(150, 120, 110)] * 10 + [(250, 240, 230)] + [(150, 120, 110)] * 5
    smooth_means, raw_means = [], []
    for light in lights:
        frame = _skin(rng, light, 5)
        smooth_means.append(smooth(face, mask, frame).astype(float).mean())
        raw_means.append(raw(face, mask, frame).astype(float).mean())
    jump_smooth = abs(smooth_means[10] - smooth_means[9])
    jump_raw = abs(raw_means[10] - raw_means[9])
    print(f"flash: jump {jump_smooth:.1f} smoothed vs {jump_raw:.1f} unsmoothed (grey levels)")
    assert jump_smooth < 0.25 * jump_raw
    assert jump_raw > 40


def test_stats_agree_with_opencv_ycrcb() -> None:
    rng = np.random.default_rng(9)
    img = _skin(rng, (180, 120, 90), 12)
    mask = np.ones((80, 80), bool)
    got = colour.colour_stats(img, mask)
    assert got is not None
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).reshape(-1, 3).astype(float)
    np.testing.assert_allclose(got.mean + np.array([0, 128, 128]), ycc.mean(axis=0), atol=1.0)
    np.testing.assert_allclose(got.std, ycc.std(axis=0), rtol=0.05)


def test_std_ratio_is_clipped() -> None:
    img = cv2.GaussianBlur(
        np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8), (5, 5), 1
    )
    mask = np.ones((40, 40), bool)
    s = colour.colour_stats(img, mask)
    assert s is not None
    wild = colour.ColourStats(s.mean, s.std * 50)
    out = colour.colour_stats(colour.transfer(img, s, wild), mask)
    assert out is not None
    assert (out.std / s.std).max() <= colour.STD_RATIO_RANGE[1] + 0.1
    with pytest.raises(ValueError):
        colour.SmoothedTransfer(alpha=0)


def test_statistics_of_a_big_region_are_taken_on_a_sparser_grid() -> None:
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (600, 500, 3), dtype=np.uint8)
    mask = np.zeros((600, 500), bool)
    mask[100:500, 50:450] = True
    got = colour.colour_stats(img, mask)
    assert got is not None
    step = max(2, round(np.sqrt(600 * 500 / colour.STATS_SAMPLES)))
    assert step == 4
    grid = cv2.cvtColor(np.ascontiguousarray(img[::step, ::step]), cv2.COLOR_RGB2YCrCb)
    picked = grid[mask[::step, ::step]].astype(np.float64)
    np.testing.assert_allclose(got.mean, picked.mean(axis=0) - colour.CHROMA_OFFSET, atol=1e-6)
    np.testing.assert_allclose(got.std, picked.std(axis=0) + 1e-3, atol=1e-6)
