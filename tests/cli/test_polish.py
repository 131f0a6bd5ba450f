"""QA-pass defects in `facedub` (against a real facedubd where one is involved)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.harness import (
    FACEDUB,
    ROOT,
    Daemon,
    one_error_line,
    run_facedub,
    start_daemon,
    stop_daemon,
)


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


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    settings = {"FACEDUBD_RATE_WINDOW_S": "30", "FACEDUBD_RATE_OTHER": "2"}
    running = start_daemon(tmp_path_factory.mktemp("limited"), settings)
    try:
        yield running
    finally:
        stop_daemon(running)


def test_rate_limited_line_says_how_long_to_wait(limited: Daemon) -> None:
    """Retries exhausted: the one error line gives Retry-After's seconds."""
    transport = httpx.HTTPTransport(uds=str(limited.socket))
    with httpx.Client(transport=transport, base_url="http://localhost") as client:
        for _ in range(10):
            if client.get("/usage").status_code == 429:
                break
    result = run_facedub("usage", daemon=limited, env={"FACEDUB_RETRIES": "0"})
    assert result.code == 5
    line = one_error_line(result, "rate_limited")
    waited = re.search(r"\(try again in (\d+) seconds?\)$", line)
    assert waited is not None, line
    assert 1 <= int(waited.group(1)) <= 30


def test_config_show_with_an_unknown_profile(tmp_path: Path) -> None:
    """The config file names a profile that does not exist: show says so, exit 0."""
    home = tmp_path / "home"
    (home / "facedub").mkdir(parents=True)
    (home / "facedub" / "config.toml").write_text('profile = "staging"\n')
    env = {"XDG_CONFIG_HOME": str(home)}
    shown = run_facedub("config", "show", env=env)
    assert shown.code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "profile:     staging (unknown: no profile has that name)"
    assert lines[1].startswith("target:      none")
    assert "  local: socket=" in shown.stdout
    as_json = run_facedub("config", "show", "--json", env=env)
    assert as_json.code == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert (body["profile"], body["profile_known"], body["api_url"]) == ("staging", False, None)
    assert sorted(body["profiles"]) == ["hosted", "local"]


def test_invalid_toml_config_is_exit_2_naming_file_and_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "facedub").mkdir(parents=True)
    path = home / "facedub" / "config.toml"
    path.write_text('profile = "local"\n[profiles.x\napi_url = 1\n')
    shown = run_facedub("config", "show", env={"XDG_CONFIG_HOME": str(home)})
    assert shown.code == 2
    line = one_error_line(shown, "invalid_config")
    assert str(path) in line
    assert "line 2" in line
