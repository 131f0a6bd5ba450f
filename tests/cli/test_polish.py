"""QA-pass defects in `facedub` (against a real facedubd where one is involved)."""

from __future__ import annotations

import os
import subprocess

from tests.cli.harness import FACEDUB, ROOT, Daemon


def test_closed_stdout_ends_quietly(daemon: Daemon) -> None:
    """`facedub ... | head -1`: the reader leaving early is no error (exit 0, no line)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FACEDUB_SOCKET": str(daemon.socket)}
    env.pop("FACEDUB_DEBUG", None)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte is written
    try:
        done = subprocess.run(
            [str(FACEDUB), "--json", "usage"],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 0
