"""QA-pass defects in `facedubd`'s command line (admin commands and `run`)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.harness import FACEDUBD, ROOT


def facedubd(
    *args: str, env: dict[str, str] | None = None, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    full.pop("FACEDUB_DEBUG", None)
    return subprocess.run(
        [str(FACEDUBD), *args], env=full, capture_output=True, text=True, timeout=120, stdin=stdin
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
    assert lines[0].split() == ["ID", "EMAIL", "PLAN", "USED", "CREDITS", "FLAGS"]
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


def emails(data: str) -> list[str]:
    listed = facedubd("users", "list", "--json", "--data-dir", data)
    return [user["email"] for user in json.loads(listed.stdout)]


def purge_on_a_terminal(data: str, email: str, answer: str) -> tuple[int, str, str]:
    """`users purge EMAIL` with a terminal on stdin: wait for the question, type ANSWER."""
    main, side = pty.openpty()
    full = {**os.environ, "PYTHONPATH": str(ROOT)}
    full.pop("FACEDUB_DEBUG", None)
    with subprocess.Popen(
        [str(FACEDUBD), "users", "purge", email, "--data-dir", data],
        stdin=side,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full,
    ) as proc:
        os.close(side)
        assert proc.stderr is not None and proc.stdout is not None
        asked = b""
        deadline = time.monotonic() + 60
        while b"to confirm: " not in asked and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 1)
            if ready:
                asked += os.read(proc.stderr.fileno(), 4096)
        os.write(main, answer.encode() + b"\n")
        out, rest = proc.communicate(timeout=60)
    os.close(main)
    return proc.returncode, out.decode(), (asked + rest).decode()


def test_purge_asks_for_the_email_on_a_terminal(tmp_path: Path) -> None:
    """It deleted the account, its keys, jobs and files without a question."""
    data = str(tmp_path / "data")
    assert facedubd("users", "create", "ann@example.com", "--data-dir", data).returncode == 0
    code, out, err = purge_on_a_terminal(data, "ann@example.com", "ann")
    assert (code, out) == (1, "")
    assert err.startswith(
        "This deletes ann@example.com for good: the account, its 1 active API key(s), "
        "0 job(s) and their files (its ledger rows are kept).\n"
        "Type ann@example.com to confirm: "
    )
    # the terminal echoes the answer and its newline; the pipe has only the question
    assert err.endswith(
        "to confirm: error: cancelled: Nothing was purged: the answer was not ann@example.com.\n"
    )
    assert emails(data) == ["ann@example.com"]
    code, out, err = purge_on_a_terminal(data, "ann@example.com", "ann@example.com")
    assert (code, out) == (0, "purged ann@example.com and 0 job(s)\n"), err
    assert emails(data) == []


def test_purge_without_a_terminal_needs_yes(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert facedubd("users", "create", "ann@example.com", "--data-dir", data).returncode == 0
    refused = facedubd("users", "purge", "ann@example.com", "--data-dir", data)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.splitlines() == [
        "error: invalid_request: users purge deletes ann@example.com for good and stdin is "
        "not a terminal to ask on: pass --yes to purge without asking."
    ]
    assert emails(data) == ["ann@example.com"]
    unknown = facedubd("users", "purge", "bo@example.com", "--data-dir", data)
    assert unknown.returncode == 4  # looked up before anything is asked
    assert unknown.stderr.splitlines() == ["error: not_found: No user with email bo@example.com."]
    done = facedubd("users", "purge", "ann@example.com", "--yes", "--data-dir", data)
    assert (done.returncode, done.stdout) == (0, "purged ann@example.com and 0 job(s)\n")
    assert emails(data) == []
