"""A full disk, for real: the daemon's data dir on a size-limited tmpfs (root and mount
are needed; elsewhere these tests skip and say why). Filled during an upload and during
encoding: a clear error, no partial files, the daemon keeps serving."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_api import assert_problem
from tests.daemon.faultkit import integrity, job_files, ledger, stray_uploads, wait_until
from tests.daemon.test_lifecycle import credits_used, job, submit, wait_for
from tests.faultlog import FaultLog
from tests.harness import Daemon, make_daemon

pytestmark = pytest.mark.slow


def mount_small_disk(folder: Path, megabytes: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {megabytes} MB tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Daemon]]:
    made: list[Daemon] = []

    def make(megabytes: int) -> Daemon:
        mount_small_disk(tmp_path / "data", megabytes)
        made.append(
            make_daemon(tmp_path, {"workers": 1, "shutdown_grace_s": 2, "rate_get_jobs": 100_000})
        )
        return made[-1]

    yield make
    for daemon in made:
        if daemon.proc is not None:
            daemon.stop(signal.SIGKILL)
    subprocess.run(["umount", "-l", str(tmp_path / "data")], capture_output=True)


def fill(folder: Path, leave_bytes: int) -> Path:
    """A real file that takes all the free space but `leave_bytes`."""
    ballast = folder / "ballast"
    room = shutil.disk_usage(folder).free - leave_bytes
    with ballast.open("wb") as out:
        block = b"\0" * (1 << 16)
        while room > 0:
            room -= out.write(block[: min(len(block), room)])
    return ballast


def test_disk_fills_during_upload(
    small_disk: Callable[[int], Daemon], sample: Callable[[str], Path], faults: FaultLog
) -> None:
    daemon = small_disk(6)
    daemon.start()
    daemon.wait_models()
    _, key = daemon.create_user("full@example.com")
    free_before = shutil.disk_usage(daemon.data_dir).free
    files = {
        "character_photo": ("p.jpg", sample("grace_hopper.jpg").read_bytes()),
        "reference_video": ("v.mp4", os.urandom(free_before + (1 << 20))),
    }
    with daemon.client(key) as client:
        reply = client.post("/jobs", files=files, data={"duration": "2"})
        body = assert_problem(reply, 507, "storage_full")
        assert "disk is full" in body["detail"]
        assert client.get("/usage").json()["credits_used"] == 0
        assert client.get("/jobs").json() == []
    assert stray_uploads(daemon) == []
    assert shutil.disk_usage(daemon.data_dir).free >= free_before - (1 << 20)
    job_id = submit(daemon, key, sample)
    assert job(daemon, key, job_id)["status"] in ("queued", "processing")
    with daemon.client(key) as client:
        assert client.post(f"/jobs/{job_id}/cancel").status_code == 200
    assert integrity(daemon) == "ok"
    faults.tried("disk full during an upload", 1)


def test_disk_fills_during_encoding(
    small_disk: Callable[[int], Daemon], sample: Callable[[str], Path], faults: FaultLog
) -> None:
    daemon = small_disk(24)
    daemon.start()
    daemon.wait_models()
    _, key = daemon.create_user("fullenc@example.com")
    job_id = submit(daemon, key, sample)
    wait_until(
        lambda: job(daemon, key, job_id)["stage"] in ("generating_video", "encoding"),
        300,
        "the video stage",
    )
    ballast = fill(daemon.data_dir, leave_bytes=64 << 10)
    failed_s = wait_until(
        lambda: job(daemon, key, job_id)["status"] != "processing", 300, "the job ending"
    )
    ended = job(daemon, key, job_id)
    ballast.unlink()
    assert (ended["status"], ended["error_code"]) == ("failed", "storage_full"), ended
    assert "disk is full" in ended["error"]
    assert ledger(daemon, job_id) == [("charge", 1), ("refund", -1)]
    assert job_files(daemon, job_id) == [] and stray_uploads(daemon) == []
    assert credits_used(daemon, key) == 0
    assert httpx.get(daemon.url + "/healthz").status_code == 200
    again = submit(daemon, key, sample)
    wait_for(daemon, key, again, "processing")
    with daemon.client(key) as client:
        assert client.post(f"/jobs/{again}/cancel").status_code == 200
    assert integrity(daemon) == "ok"
    faults.tried("disk full during encoding", 1, failed_after_s=round(failed_s, 2))
