"""`facedubd run`'s own pure parts: the folders it makes for -o, and its plain progress
lines (stdout not a terminal)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from facedubd.commands.run import _plain_events
from facedubd.paths import make_private_parents


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_folders_above_the_output_are_made_0700(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    made = make_private_parents(mine / "a" / "b" / "out.mp4")
    assert made == [mine / "a", mine / "a" / "b"]  # what a failed run removes again
    assert _mode(mine / "a") == 0o700
    assert _mode(mine / "a" / "b") == 0o700
    assert _mode(mine) == 0o755  # a folder that was there is the user's: left as it was
    assert not (mine / "a" / "b" / "out.mp4").exists()
    assert make_private_parents(mine / "a" / "b" / "out.mp4") == []  # nothing to do again


def test_a_file_above_the_output_is_named(tmp_path: Path) -> None:
    taken = tmp_path / "afile"
    taken.write_text("mine")
    with pytest.raises(NotADirectoryError) as caught:
        make_private_parents(taken / "deeper" / "out.mp4")
    assert caught.value.filename == str(taken)
    assert taken.read_text() == "mine"


def _lines(events: list[tuple[str, float]], capsys: pytest.CaptureFixture[str]) -> list[str]:
    with _plain_events() as on_event:
        for stage, progress in events:
            on_event(stage, progress)
    return capsys.readouterr().out.splitlines()


def test_progress_that_stops_short_still_ends_at_100(capsys: pytest.CaptureFixture[str]) -> None:
    """The frame count is an estimate: a clip with a frame or two fewer used to end its
    progress at 94%, with no 100% line."""
    steps = [("generating_video", k / 16) for k in range(16)]  # up to 94%
    lines = _lines([*steps, ("encoding", 0.0), ("done", 1.0)], capsys)
    shown = [line for line in lines if line.startswith("generating_video: ")]
    assert shown[-1] == "generating_video: 100%"
    assert lines[-2].startswith("encoding: ")
    assert shown.count("generating_video: 100%") == 1


def test_progress_reaching_100_is_shown_once(capsys: pytest.CaptureFixture[str]) -> None:
    steps = [("generating_video", k / 10) for k in range(11)]
    lines = _lines([*steps, ("encoding", 0.0)], capsys)
    shown = [line for line in lines if line.startswith("generating_video: ")]
    assert shown[-1] == "generating_video: 100%"
    assert shown.count("generating_video: 100%") == 1
    assert [line for line in shown if line.endswith("%")] == [
        f"generating_video: {k}0%" for k in range(1, 10)
    ] + ["generating_video: 100%"]
