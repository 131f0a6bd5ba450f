"""QA-pass defects in `facedub` (against a real facedubd where one is involved)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.cli.harness import FACEDUB, ROOT, Daemon, one_error_line, run_facedub


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


def test_malformed_api_url_is_a_usage_error(tmp_path: Path) -> None:
    """Not a URL at all: exit 2 and a line naming it, not connection_failed (exit 7)."""
    home = {"XDG_CONFIG_HOME": str(tmp_path)}
    flag = run_facedub("--api-url", "notaurl", "usage", env=home)
    assert flag.code == 2
    line = one_error_line(flag, "usage_error")
    assert "--api-url must be an http:// or https:// URL, not 'notaurl'" in line
    env = run_facedub("usage", env={**home, "FACEDUB_API_URL": "http//x"})
    assert env.code == 2
    assert "FACEDUB_API_URL must be" in one_error_line(env, "usage_error")
