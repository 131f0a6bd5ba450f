"""Defects a new user met in `facedubd` (QA pass): help texts that lost their defaults
to Rich markup, and `run -o FOLDER`, which ran the whole job before failing."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.cli.harness import FACEDUBD, ROOT

Sample = Callable[[str], Path]


def facedubd(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "250"}
    env.pop("FACEDUB_DEBUG", None)
    return subprocess.run(
        [str(FACEDUBD), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_help_keeps_its_defaults_and_env_names() -> None:
    serve = facedubd("serve", "--help")
    assert serve.returncode == 0, serve.stderr
    for text in (
        "(default: <data dir>/run/facedubd.sock)",
        "(default: the request's host)",
        "(default: <data dir>/facedubd.toml)",
        "(env: FACEDUBD_DATA_DIR)",
    ):
        assert text in serve.stdout, text
    create = facedubd("users", "create", "--help")
    assert "(default: setting default_credits_limit)" in create.stdout
    assert " ." not in create.stdout


def test_run_refuses_a_folder_as_output_before_working(sample: Sample, tmp_path: Path) -> None:
    photo, video = sample("grace_hopper.jpg"), sample("single_face.mp4")
    done = facedubd("run", str(photo), str(video), "-o", str(tmp_path), "--duration", "1")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: invalid_request: {tmp_path.resolve()} is a folder: name the MP4 to write.\n"
    )
    assert list(tmp_path.iterdir()) == []
