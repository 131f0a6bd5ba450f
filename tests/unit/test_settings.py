"""Daemon settings from the config file: values of the wrong kind are refused, not
turned into another value."""

from __future__ import annotations

from pathlib import Path

import pytest

from facedubd.errors import InvalidRequest
from facedubd.settings import DaemonSettings, load_settings


def _from_file(tmp_path: Path, text: str) -> DaemonSettings:
    config = tmp_path / "facedubd.toml"
    config.write_text(text)
    return load_settings(tmp_path, config, environ={})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("workers = 1.5", "setting workers must be a whole number, got 1.5"),
        ("max_active_jobs = true", "setting max_active_jobs must be a whole number, got True"),
        ("rate_window_s = false", "setting rate_window_s must be a number, got False"),
        ("max_video_mb = inf", "setting max_video_mb must be a finite number, got inf"),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused(tmp_path: Path, text: str, words: str) -> None:
    """`workers = 1.5` ran one worker and `true` counted as 1, without a word."""
    with pytest.raises(InvalidRequest) as caught:
        _from_file(tmp_path, text + "\n")
    assert caught.value.message == words


def test_whole_and_fractional_numbers_are_taken_where_they_fit(tmp_path: Path) -> None:
    settings = _from_file(tmp_path, "workers = 2.0\nrate_window_s = 30\nmax_video_mb = 0.5\n")
    assert (settings.workers, settings.rate_window_s, settings.max_video_mb) == (2, 30.0, 0.5)
