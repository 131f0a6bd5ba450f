"""A real `facedubd serve` in a subprocess, on a free TCP port and a short Unix socket."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

FACEDUBD = str(Path(sys.executable).parent / "facedubd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class Daemon:
    data_dir: Path
    socket_path: Path
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        args = [FACEDUBD, "serve", "--port", str(self.port), "--socket", str(self.socket_path)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([*args, *extra], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"facedubd exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("facedubd did not answer /healthz within 30 s")

    def wait_models(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if httpx.get(self.url + "/healthz").json()["models"] == "ready":
                return
            time.sleep(0.2)
        raise RuntimeError(f"models not ready: {self.log_path.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def client(self, key: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)

    def socket_client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        transport = httpx.HTTPTransport(uds=str(self.socket_path))
        return httpx.Client(
            base_url="http://facedubd", transport=transport, headers=headers, timeout=60
        )

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FACEDUBD, *args], env=self.env, capture_output=True, text=True, timeout=60
        )

    def create_user(self, email: str, *extra: str) -> tuple[str, str]:
        """(user id, API key) of a new account."""
        done = self.admin("users", "create", email, "--json", *extra)
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        return body["id"], body["api_key"]


def make_daemon(root: Path, settings: dict[str, Any], env: dict[str, str] | None = None) -> Daemon:
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (data / "facedubd.toml").write_text("\n".join(lines) + "\n")
    short = Path(tempfile.mkdtemp(prefix="fdd", dir="/tmp"))
    full_env = {**os.environ, "FACEDUBD_DATA_DIR": str(data), **(env or {})}
    return Daemon(data, short / "d.sock", free_port(), full_env, root / "daemon.log")
