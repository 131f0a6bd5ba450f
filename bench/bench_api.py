"""The daemon's API under load, with rate limits lifted by configuration: GET /jobs/{id}
requests per second and p99 with 20 concurrent clients from a separate load-generator
process; upload throughput and the daemon's peak RSS above idle for a 200 MB upload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from facedubd.samples import sample_path
from tests.harness import Daemon, make_daemon

CLIENTS = 20
UPLOAD_MB = 200


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_kb = max(self.peak_kb, _rss_kb(self.pid))
            time.sleep(0.005)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _job_id(daemon: Daemon, key: str) -> str:
    files = {
        "character_photo": ("p.jpg", sample_path("grace_hopper.jpg").read_bytes()),
        "reference_video": ("v.mp4", sample_path("single_face.mp4").read_bytes()),
    }
    with daemon.client(key) as client:
        reply = client.post("/jobs", files=files, data={"duration": "2"})
    reply.raise_for_status()
    job_id: str = reply.json()["job_id"]
    return job_id


def _load(daemon: Daemon, key: str, job_id: str, seconds: float) -> dict[str, float]:
    args = ["127.0.0.1", str(daemon.port), f"/jobs/{job_id}", key, str(CLIENTS), str(seconds)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def _chunks(total: int, size: int = 1 << 20):  # type: ignore[no-untyped-def]
    block = os.urandom(size)
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


def _upload(daemon: Daemon, key: str, megabytes: int) -> dict[str, float]:
    """Stream a multipart body with a `megabytes` MB video part; measure time and RSS.

    duration=0 is refused only once the whole body is on disk, so the time is the
    upload's, not the input checks'."""
    boundary = "benchboundary0123456789"
    photo = sample_path("grace_hopper.jpg").read_bytes()
    total = megabytes * 1_000_000

    def body():  # type: ignore[no-untyped-def]
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="duration"\r\n\r\n0\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="character_photo"; '
            f'filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        yield photo
        yield (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="reference_video"; '
            f'filename="v.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode()
        yield from _chunks(total)
        yield f"\r\n--{boundary}--\r\n".encode()

    assert daemon.proc is not None
    idle_kb = _rss_kb(daemon.proc.pid)
    sampler = RssSampler(daemon.proc.pid)
    sampler.start()
    started = time.perf_counter()
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    reply = httpx.post(daemon.url + "/jobs", content=body(), headers=headers, timeout=300)
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    return {
        "status": reply.status_code,
        "code": reply.json().get("code"),
        "seconds": round(elapsed, 2),
        "mb_per_s": round(megabytes / elapsed, 1),
        "idle_mb": round(idle_kb / 1024, 1),
        "peak_above_idle_mb": round((sampler.peak_kb - idle_kb) / 1024, 1),
    }


def run(quick: bool) -> str:
    unlimited = 1_000_000_000
    settings = {
        "workers": 0,
        "rate_get_jobs": unlimited,
        "rate_post_jobs": unlimited,
        "rate_other": unlimited,
        "auth_failures_per_window": unlimited,
    }
    with tempfile.TemporaryDirectory(prefix="fdd-bench-") as root:
        daemon = make_daemon(Path(root), settings)
        daemon.start()
        try:
            daemon.wait_models()
            _, key = daemon.create_user("bench@example.com")
            job_id = _job_id(daemon, key)
            _load(daemon, key, job_id, 1.0)  # warm-up
            assert daemon.proc is not None
            cpu_before = _cpu_s(daemon.proc.pid)
            load = _load(daemon, key, job_id, 3.0 if quick else 15.0)
            cpu_ms = (_cpu_s(daemon.proc.pid) - cpu_before) * 1000 / max(1, load["requests"])
            upload = _upload(daemon, key, 20 if quick else UPLOAD_MB)
        finally:
            daemon.stop()
    size = 20 if quick else UPLOAD_MB
    return "\n".join(
        [
            "| measure | value |",
            "|---|---:|",
            f"| GET /jobs/{{id}}, {CLIENTS} clients: requests/s | {load['req_per_s']} |",
            f"| GET /jobs/{{id}}: p50 ms | {load['p50_ms']} |",
            f"| GET /jobs/{{id}}: p99 ms | {load['p99_ms']} |",
            f"| GET /jobs/{{id}}: non-200 answers | {load['errors']} of {load['requests']} |",
            f"| GET /jobs/{{id}}: daemon CPU ms per request | {cpu_ms:.2f} |",
            f"| load average while measured (1 min) | {os.getloadavg()[0]:.1f} |",
            f"| POST /jobs, {size} MB video part: MB/s to the answer | {upload['mb_per_s']} |",
            f"| POST /jobs, {size} MB: daemon peak RSS above idle, MB | "
            f"{upload['peak_above_idle_mb']} (idle {upload['idle_mb']}) |",
            f"| POST /jobs answer | {upload['status']} {upload['code']} |",
        ]
    )
