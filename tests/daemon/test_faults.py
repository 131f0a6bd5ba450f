"""Faults injected into a real daemon: the pipeline child killed or crashing with SIGSEGV,
cancel and delete on disk, kill -9 of the daemon and its children, a second SIGTERM.
Each test records what it tried (tests/faultlog.py) for RELIABILITY.md."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api.test_api import assert_problem
from tests.daemon.faultkit import (
    integrity,
    job_files,
    ledger,
    pid_alive,
    stray_uploads,
    wait_child,
    wait_until,
)
from tests.daemon.test_lifecycle import credits_used, job, submit, wait_for
from tests.faultlog import FaultLog
from tests.harness import Daemon, make_daemon

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    made = make_daemon(
        tmp_path, {"workers": 1, "shutdown_grace_s": 1}, env={"TMPDIR": str(scratch)}
    )
    yield made
    if made.proc is not None:
        made.stop(signal.SIGKILL)


def scratch_files(daemon: Daemon) -> list[Path]:
    """What the daemon and its children left in their TMPDIR; onnxruntime keeps one
    `.ses` marker there for the life of the install, not per job."""
    return sorted(p for p in Path(daemon.env["TMPDIR"]).rglob("*") if p.name != ".ses")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV], ids=["kill", "segv"])
def test_pipeline_child_crash_fails_refunds_and_daemon_serves(
    daemon: Daemon, sample: Callable[[str], Path], faults: FaultLog, sig: int
) -> None:
    """SIGSEGV is delivered from outside, as a crash in native code would raise it."""
    daemon.start()
    daemon.wait_models()
    _, key = daemon.create_user("child@example.com")
    job_id = submit(daemon, key, sample)
    wait_for(daemon, key, job_id, "processing")
    child = wait_child(daemon)
    os.kill(child, sig)
    took = wait_until(lambda: job(daemon, key, job_id)["status"] == "failed", 30, "failure")
    failed = job(daemon, key, job_id)
    assert failed["error_code"] == "pipeline_crashed"
    assert failed["error"].endswith(".") and "/" not in failed["error"]
    assert ledger(daemon, job_id) == [("charge", 1), ("refund", -1)]
    assert credits_used(daemon, key) == 0
    assert not pid_alive(child)
    assert job_files(daemon, job_id) == [] and stray_uploads(daemon) == []
    assert scratch_files(daemon) == []
    assert daemon.proc is not None and daemon.proc.poll() is None
    again = submit(daemon, key, sample)
    wait_for(daemon, key, again, "processing")
    with daemon.client(key) as client:
        assert client.post(f"/jobs/{again}/cancel").status_code == 200
    assert integrity(daemon) == "ok"
    name = "SIGKILL" if sig == signal.SIGKILL else "SIGSEGV"
    faults.tried(f"pipeline child killed with {name} mid-job", 1, failed_after_s=round(took, 2))


def test_cancel_queued_and_processing(
    daemon: Daemon, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    daemon.start()
    daemon.wait_models()
    _, key = daemon.create_user("cancels@example.com")
    running = submit(daemon, key, sample)
    queued = submit(daemon, key, sample)
    wait_for(daemon, key, running, "processing")
    child = wait_child(daemon)
    assert job(daemon, key, queued)["status"] == "queued"
    with daemon.client(key) as client:
        first = client.post(f"/jobs/{queued}/cancel").json()
        start = time.monotonic()
        second = client.post(f"/jobs/{running}/cancel").json()
        wait_until(lambda: not pid_alive(child), 10, "the child stopping")
        stopped_s = time.monotonic() - start
        for body in (first, second):
            assert (body["status"], body["error_code"]) == ("failed", "cancelled")
            assert body["error"] == "The job was cancelled."
        for job_id in (queued, running):
            assert_problem(client.post(f"/jobs/{job_id}/cancel"), 409, "job_finished")
            assert ledger(daemon, job_id) == [("charge", 1), ("refund", -1)]
            assert wait_until(lambda j=job_id: job_files(daemon, j) == [], 10, "files removed") >= 0
    assert credits_used(daemon, key) == 0
    assert scratch_files(daemon) == [] and stray_uploads(daemon) == []
    assert job(daemon, key, running)["stage"] != "queued"
    faults.tried("cancel of a queued job", 1)
    faults.tried("cancel of a processing job", 1, child_stopped_after_s=round(stopped_s, 2))


def test_second_sigterm_stops_at_once_without_corruption(
    tmp_path: Path, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    patient = make_daemon(tmp_path, {"workers": 1, "shutdown_grace_s": 120})
    try:
        patient.start()
        patient.wait_models()
        _, key = patient.create_user("twice@example.com")
        job_id = submit(patient, key, sample)
        wait_for(patient, key, job_id, "processing")
        child = wait_child(patient)
        assert patient.proc is not None
        patient.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert patient.proc.poll() is None, "the first SIGTERM waits for the job"
        start = time.monotonic()
        patient.proc.send_signal(signal.SIGTERM)
        code = patient.proc.wait(30)
        exit_s = time.monotonic() - start
        patient.proc = None
        assert code == 0 and not pid_alive(child)
        assert exit_s < 15
        assert integrity(patient) == "ok"
        assert not patient.socket_path.exists()
        patient.start("--workers", "0")
        requeued = job(patient, key, job_id)
        assert (requeued["status"], requeued["stage"]) == ("queued", "queued")
        assert ledger(patient, job_id) == [("charge", 1)]
        assert job_files(patient, job_id) == [
            patient.data_dir / "jobs" / job_id / "inputs" / name for name in ("photo", "video")
        ]
    finally:
        if patient.proc is not None:
            patient.stop(signal.SIGKILL)
    faults.tried("second SIGTERM during a drain", 1, exit_after_s=round(exit_s, 2))
