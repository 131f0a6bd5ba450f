"""Faults injected into a real daemon: the pipeline child killed or crashing with SIGSEGV,
cancel and delete on disk, kill -9 of the daemon and its children, a second SIGTERM.
Each test records what it tried (tests/faultlog.py) for RELIABILITY.md."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
