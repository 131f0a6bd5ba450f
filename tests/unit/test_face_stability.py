"""Jitter on still stretches, on synthetic tracks with known noise and motion."""

from __future__ import annotations

import numpy as np
import pytest

from facedubd.pipeline.face import landmarks as lm
from facedubd.pipeline.face.stability import moving_average, track_jitter


def _face(rng: np.random.Generator) -> np.ndarray:
    face = rng.uniform(-50, 50, (468, 2))
    face[lm.RIGHT_EYE_OUTER], face[lm.LEFT_EYE_OUTER] = (-50, 0), (50, 0)  # IOD 100
    return face


def test_moving_average_is_centred_and_keeps_constants() -> None:
    values = np.array([[0.0], [0.0], [3.0], [0.0], [0.0]])
    np.testing.assert_allclose(moving_average(values, 3)[:, 0], [0, 1, 1, 1, 0])
    np.testing.assert_allclose(moving_average(np.full((4, 2), 7.0), 3), np.full((4, 2), 7.0))


def test_a_still_head_with_known_noise_measures_that_noise() -> None:
    rng = np.random.default_rng(1)
    face = _face(rng)
    noise = np.zeros((200, 468, 2))
    noise[100:, lm.NOSE_TIP, 0] = 1.0  # the nose tip jumps 1 px once, at frame 100
    track = face + noise
    jitter = track_jitter(track)
    assert jitter.pairs == 199 and jitter.still_pairs == 199
    # One step of 1 px on one of five points, over 199 pairs, IOD 100.
    assert jitter.mean == pytest.approx(1.0 / 5 / 199 / 100)


def test_a_moving_head_is_not_still_and_missing_frames_split_runs() -> None:
    face = _face(np.random.default_rng(2))
    track = np.stack([face + np.array([t * 2.0, 0.0]) for t in range(60)])  # 2% of IOD per frame
    track[30] = np.nan
    jitter = track_jitter(track)
    assert jitter.pairs == 29 + 28
    assert jitter.still_pairs == 0 and np.isnan(jitter.mean)
