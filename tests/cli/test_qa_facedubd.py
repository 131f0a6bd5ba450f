"""A defect a new user met in `facedubd` (QA pass): help texts that lost their defaults
to Rich markup."""

from __future__ import annotations

import os
import subprocess

from tests.cli.harness import FACEDUBD, ROOT


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
