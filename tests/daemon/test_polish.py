"""QA-pass defects in `facedubd`'s command line (admin commands and `run`)."""

from __future__ import annotations

import os
import subprocess

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
