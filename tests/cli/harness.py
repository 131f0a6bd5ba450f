"""Test harness: a real `facedubd serve` on a temporary Unix socket and TCP port,
and a runner for the real `facedub` console script against it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FACEDUB = BIN / "facedub"
FACEDUBD = BIN / "facedubd"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Daemon:
    data_dir: Path
    socket: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    api_key: str = ""
    email: str = ""
    extra_users: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `facedubd ARGS` on this daemon's data dir."""
        return subprocess.run(
            [str(FACEDUBD), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )

    def create_user(self, email: str, *extra: str) -> str:
        """A new account; returns its first API key."""
        done = self.admin("users", "create", email, "--json", *extra)
        key = str(json.loads(done.stdout)["api_key"])
        self.extra_users[email] = key
        return key

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def start_daemon(base: Path, settings: dict[str, str] | None = None) -> Daemon:
    data_dir = base / "data"
    # AF_UNIX paths are short (108 bytes): keep the socket under /tmp.
    socket_dir = Path(tempfile.mkdtemp(prefix="fdcli-", dir="/tmp"))
    sock = socket_dir / "d.sock"
    port = free_port()
    env = {**os.environ, "FACEDUBD_DATA_DIR": str(data_dir), **(settings or {})}
    log = base / "facedubd.log"
    command = [str(FACEDUBD), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--socket", str(sock)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    daemon = Daemon(data_dir, sock, port, env, process, log)
    _wait_healthy(daemon)
    daemon.email = "owner@example.com"
    daemon.api_key = daemon.create_user(daemon.email)
    return daemon


def _socket_accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def _wait_healthy(daemon: Daemon, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise RuntimeError(f"facedubd exited early:\n{daemon.log_tail()}")
        if _socket_accepts(daemon.socket):
            transport = httpx.HTTPTransport(uds=str(daemon.socket))
            with httpx.Client(transport=transport, base_url="http://localhost") as client:
                if client.get("/healthz", timeout=5).status_code == 200:
                    return
        time.sleep(0.2)
    stop_daemon(daemon)
    raise RuntimeError(f"facedubd did not answer /healthz in {timeout}s:\n{daemon.log_tail()}")


def stop_daemon(daemon: Daemon) -> None:
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
        try:
            daemon.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.wait(timeout=10)
    shutil.rmtree(daemon.socket.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon per test module, default limits."""
    running = start_daemon(tmp_path_factory.mktemp("facedubd"))
    try:
        yield running
    finally:
        stop_daemon(running)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float


def run_facedub(
    *args: str,
    daemon: Daemon | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> Result:
    """Run the installed `facedub` console script (over the daemon's socket by default)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    full_env.pop("FACEDUB_DEBUG", None)
    if daemon is not None:
        full_env["FACEDUB_SOCKET"] = str(daemon.socket)
    full_env.update(env or {})
    started = time.monotonic()
    done = subprocess.run(
        [str(FACEDUB), *args],
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def one_error_line(result: Result, code: str) -> str:
    """Assert the error contract: nothing on stdout, one `error: <code>: ...` line on stderr."""
    lines = result.stderr.strip().splitlines()
    assert result.stdout == "", result.stdout
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {code}: "), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]
