"""Which of a job's artifacts the worker lists at each stage (files made by earlier
stages only: a file of the stage under way may be half-written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facedubd.worker import VIEW_FILES, artifacts_in


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("preparing", []),
        ("generating_views", []),
        ("extracting_keyframe", list(VIEW_FILES)),
        ("compositing_scene", list(VIEW_FILES)),
        ("generating_video", ["preview.jpg", *VIEW_FILES]),
        ("done", ["preview.jpg", *VIEW_FILES]),
    ],
)
def test_artifacts_of_finished_stages_only(tmp_path: Path, stage: str, expected: list[str]) -> None:
    (tmp_path / "views").mkdir()
    for name in VIEW_FILES:
        (tmp_path / "views" / name).write_bytes(b"png")
    (tmp_path / "preview.jpg").write_bytes(b"jpg")
    assert artifacts_in(tmp_path, stage) == expected


def test_artifacts_missing_on_disk_are_not_listed(tmp_path: Path) -> None:
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "front.png").write_bytes(b"png")
    assert artifacts_in(tmp_path) == ["front.png"]
