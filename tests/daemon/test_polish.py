"""QA-pass defects in `facedubd`'s command line (admin commands and `run`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.harness import FACEDUBD, ROOT


def facedubd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    full.pop("FACEDUB_DEBUG", None)
    return subprocess.run(
        [str(FACEDUBD), *args], env=full, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "command", [(), ("serve",), ("run",), ("users",), ("users", "create"), ("keys",), ("models",)]
)
def test_dash_h_is_help_everywhere(command: tuple[str, ...]) -> None:
    short = facedubd(*command, "-h")
    assert short.returncode == 0, short.stderr
    assert short.stdout == facedubd(*command, "--help").stdout
    assert "Usage: facedubd" in short.stdout


def test_users_list_has_a_header_row(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert facedubd("users", "create", "ann@example.com", "--data-dir", data).returncode == 0
    assert facedubd("users", "create", "bo@example.com", "--plan", "pro", "--data-dir", data)
    listed = facedubd("users", "list", "--data-dir", data)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "EMAIL", "PLAN", "CREDITS", "FLAGS"]
    assert [line.split()[1] for line in lines[1:]] == ["ann@example.com", "bo@example.com"]
    # Columns line up under their headings.
    assert all(line.index("@example.com") < lines[0].index("PLAN") for line in lines[1:])


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_users_create_twice_says_the_email_exists(tmp_path: Path, json_flag: list[str]) -> None:
    data = str(tmp_path / "data")
    first = facedubd("users", "create", "ann@example.com", "--data-dir", data, *json_flag)
    assert first.returncode == 0, first.stderr
    again = facedubd("users", "create", "ann@example.com", "--data-dir", data, *json_flag)
    assert again.returncode == 8  # refused: it conflicts with what exists
    assert again.stdout == ""
    assert again.stderr.splitlines() == [
        "error: already_exists: A user with the email ann@example.com already exists."
    ]


def test_run_says_a_folder_is_not_a_file(tmp_path: Path) -> None:
    from facedubd.samples import sample_path

    folder = tmp_path / "shots"
    folder.mkdir()
    out = str(tmp_path / "out.mp4")
    photo = facedubd("run", str(folder), str(sample_path("single_face.mp4")), "-o", out)
    assert photo.returncode == 2
    assert photo.stderr.splitlines() == [
        "error: unreadable_photo: The photo is a folder, not a file."
    ]
    video = facedubd("run", str(sample_path("grace_hopper.jpg")), str(folder), "-o", out)
    assert video.returncode == 2
    assert video.stderr.splitlines() == [
        "error: unreadable_video: The video is a folder, not a file."
    ]
    missing = facedubd("run", str(tmp_path / "gone.jpg"), str(folder), "-o", out)
    assert missing.stderr.splitlines() == [
        "error: unreadable_photo: The photo file cannot be found."
    ]
