"""Face alpha (hull minus the inner lips, feathered) and the alpha blend."""

from __future__ import annotations

import numpy as np
import pytest

from facedubd.pipeline import blend


def _circle(cx: float, cy: float, r: float, n: int = 40) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def test_alpha_is_one_inside_zero_outside_and_zero_in_the_mouth() -> None:
    face = _circle(100, 100, 60)
    mouth = np.array([[80, 125], [120, 125], [120, 140], [80, 140]], float)
    alpha = blend.face_alpha((200, 200), face, holes=[mouth], feather_px=5)
    assert alpha[100, 100] == 1.0
    assert alpha[132, 100] == 0.0  # inside the inner lips: the reference shows
    assert alpha[100, 170] == 0.0 and alpha[5, 5] == 0.0
    # The feathered edge stays inside the hull and rises smoothly toward the centre.
    assert alpha[100, :40].max() == 0.0 and alpha[100, 161:].max() == 0.0
    ring = alpha[100, 40:60]
    assert (np.diff(ring) >= -1e-6).all() and ring[0] < 0.01 and ring[-1] > 0.9
    print(f"edge profile: {np.round(ring, 2).tolist()}")


def test_alpha_respects_the_origin_of_a_box() -> None:
    face = _circle(100, 100, 30)
    full = blend.face_alpha((200, 200), face, feather_px=4)
    boxed = blend.face_alpha((80, 80), face, feather_px=4, origin=(60, 60))
    np.testing.assert_allclose(boxed, full[60:140, 60:140], atol=1e-6)


def test_blend_is_exact_where_alpha_is_zero_and_mixes_elsewhere() -> None:
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)
    fg = np.full((50, 50, 3), 200, np.uint8)
    alpha = np.zeros((50, 50), np.float32)
    alpha[10:20, 10:20] = 1.0
    alpha[30:40, 30:40] = 0.5
    out = blend.alpha_blend(bg, fg, alpha)
    assert np.array_equal(out[alpha == 0], bg[alpha == 0])
    assert (out[10:20, 10:20] == 200).all()
    expected = np.round((bg[30:40, 30:40].astype(float) + 200) / 2)
    assert np.abs(out[30:40, 30:40] - expected).max() <= 1


def test_paste_changes_only_the_box() -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    patch = np.full((10, 20, 3), 255, np.uint8)
    alpha = np.ones((10, 20), np.float32)
    out = blend.paste(frame, patch, alpha, (30, 40))
    assert out[40:50, 30:50].min() == 255
    assert out.sum() == 255 * 3 * 200
    assert frame.sum() == 0


def test_shrink_convex_moves_every_edge_inward_by_the_inset() -> None:
    square = np.array([[0, 0], [100, 0], [100, 60], [0, 60]], float)
    inner = blend.shrink_convex(square, 5.0)
    assert inner[:, 0].min() >= 5 - 1e-9 and inner[:, 0].max() <= 95 + 1e-9
    assert inner[:, 1].min() >= 5 - 1e-9 and inner[:, 1].max() <= 55 + 1e-9
    assert inner[:, 1].min() == pytest.approx(5.0)  # the nearest edge moves exactly 5
    tiny = blend.shrink_convex(square, 40.0)
    assert np.ptp(tiny, axis=0).max() == 0.0  # collapses to the centre, never flips


def _full_resolution_alpha(shape: tuple[int, int], points: np.ndarray, feather: float):
    """The feathered mask drawn and blurred at full resolution (the reference)."""
    import cv2

    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)
    radius = max(round(feather), 1)
    mask = blend.polygon_mask(shape, blend.shrink_convex(hull, radius + 1.5))
    soft = cv2.GaussianBlur(mask, (2 * radius + 1, 2 * radius + 1), radius / 2.0 + 0.5)
    return soft.astype(np.float32) / 255.0


@pytest.mark.parametrize("feather", [4.0, 10.0, 21.0, 37.0])
def test_wide_feathers_made_at_reduced_resolution_match_full_resolution(feather: float) -> None:
    face = _circle(211.3, 305.7, 190.0, n=36) * [1.0, 1.4] - [0.0, 120.0]
    shape = (523, 437)  # not a multiple of any step
    alpha = blend.face_alpha(shape, face, feather_px=feather)
    want = _full_resolution_alpha(shape, face, feather)
    assert alpha.shape == shape and alpha.dtype == np.float32 and alpha.flags.c_contiguous
    err = np.abs(alpha - want)
    print(f"feather {feather}: alpha error max {err.max():.4f}, mean {err.mean():.5f}")
    assert err.max() < 0.04 and err.mean() < 0.005  # the largest where the face is cut
    assert alpha.max() == pytest.approx(1.0, abs=1e-3) and alpha[0, 0] == 0.0


def test_blend_into_writes_the_result_in_place() -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    fg = np.full((20, 30, 3), 250, np.uint8)
    alpha = np.linspace(0, 1, 20 * 30, dtype=np.float32).reshape(20, 30)
    want = blend.alpha_blend(frame[10:30, 5:35].copy(), fg, alpha)
    out = frame.copy()
    got = blend.alpha_blend(out[10:30, 5:35], fg, alpha, into=out[10:30, 5:35])
    assert np.shares_memory(got, out) and np.array_equal(out[10:30, 5:35], want)
    assert np.array_equal(out[:10], frame[:10])
