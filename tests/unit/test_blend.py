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
