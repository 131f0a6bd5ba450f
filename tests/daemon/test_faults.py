"""Faults injected into a real daemon: the pipeline child killed or crashing with SIGSEGV,
cancel and delete on disk, kill -9 of the daemon and its children, a second SIGTERM.
Each test records what it tried (tests/faultlog.py) for RELIABILITY.md."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_api import assert_problem
from tests.daemon.faultkit import (
    db,
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
        tmp_path,
        {"workers": 1, "shutdown_grace_s": 1, "rate_get_jobs": 100_000},
        env={"TMPDIR": str(scratch)},
    )
    yield made
    if made.proc is not None:
        made.stop(signal.SIGKILL)


def scratch_files(daemon: Daemon) -> list[Path]:
    """What the daemon and its children left in their TMPDIR; onnxruntime keeps one
    `.ses` marker there for the life of the install, not per job."""
    return sorted(p for p in Path(daemon.env["TMPDIR"]).rglob("*") if p.name != ".ses")


def test_pipeline_child_segfault_fails_refunds_and_daemon_serves(
    daemon: Daemon, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    """SIGSEGV delivered from outside, as a crash in native code raises it (SIGKILL of the
    child: test_lifecycle); the ledger, the job's files and TMPDIR are checked too."""
    daemon.start()
    daemon.wait_models()
    _, key = daemon.create_user("child@example.com")
    job_id = submit(daemon, key, sample)
    wait_for(daemon, key, job_id, "processing")
    child = wait_child(daemon)
    os.kill(child, signal.SIGSEGV)
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
    faults.tried("pipeline child crashing with SIGSEGV mid-job", 1, failed_after_s=round(took, 2))


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
            # nor an empty folder (a cancelled job keeps nothing)
            folder = daemon.data_dir / "jobs" / job_id
            assert wait_until(lambda f=folder: not f.exists(), 10, "folder removed") >= 0
    assert credits_used(daemon, key) == 0
    assert scratch_files(daemon) == [] and stray_uploads(daemon) == []
    assert job(daemon, key, running)["stage"] != "queued"
    faults.tried("cancel of a queued job", 1)
    faults.tried("cancel of a processing job", 1, child_stopped_after_s=round(stopped_s, 2))


def test_second_sigterm_stops_at_once_without_corruption(
    tmp_path: Path, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    patient = make_daemon(
        tmp_path, {"workers": 1, "shutdown_grace_s": 120, "rate_get_jobs": 100_000}
    )
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


def submit_short(daemon: Daemon, key: str, sample: Callable[[str], Path]) -> str:
    """A 1 s job: the shortest that still runs every stage."""
    files = {
        "character_photo": ("p.jpg", sample("grace_hopper.jpg").read_bytes()),
        "reference_video": ("v.mp4", sample("single_face.mp4").read_bytes()),
    }
    with daemon.client(key) as client:
        reply = client.post("/jobs", files=files, data={"duration": "1"})
    assert reply.status_code == 200, reply.text
    job_id: str = reply.json()["job_id"]
    return job_id


def all_children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def finished_at(daemon: Daemon, job_id: str) -> int:
    conn = db(daemon)
    try:
        return int(
            conn.execute("SELECT finished_at FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        )
    finally:
        conn.close()


def user_rows(daemon: Daemon, user_id: str, job_ids: list[str]) -> dict[str, int]:
    """How many rows of each table still belong to the user or their jobs."""
    marks = ",".join("?" * len(job_ids))
    counts = {
        "users": ("SELECT count(*) FROM users WHERE id = ?", [user_id]),
        "api_keys": ("SELECT count(*) FROM api_keys WHERE user_id = ?", [user_id]),
        "jobs": ("SELECT count(*) FROM jobs WHERE user_id = ?", [user_id]),
        "job_events": (f"SELECT count(*) FROM job_events WHERE job_id IN ({marks})", job_ids),
        "idempotency": ("SELECT count(*) FROM idempotency WHERE user_id = ?", [user_id]),
        "ledger": ("SELECT count(*) FROM ledger WHERE user_id = ?", [user_id]),
    }
    conn = db(daemon)
    try:
        return {
            name: int(conn.execute(sql, args).fetchone()[0]) for name, (sql, args) in counts.items()
        }
    finally:
        conn.close()


def fetch_all(job_body: dict[str, Any]) -> dict[str, httpx.Response]:
    urls = {"output": job_body["output_url"], **job_body["artifacts"]}
    with httpx.Client(timeout=60) as anonymous:
        return {name: anonymous.get(url) for name, url in urls.items()}


def test_kill9_of_daemon_and_child_then_delete_retention_purge(
    tmp_path: Path, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    """One daemon's life: kill -9 mid-job, restart, both jobs complete once and are charged
    once; outputs survive a restart with fresh URLs; delete, the retention sweep and purge
    remove files but keep the ledger."""
    daemon = make_daemon(tmp_path, {"workers": 1, "shutdown_grace_s": 5, "rate_get_jobs": 100_000})
    try:
        daemon.start()
        daemon.wait_models()
        user_id, key = daemon.create_user("kill9@example.com")
        first, second = submit_short(daemon, key, sample), submit_short(daemon, key, sample)
        wait_for(daemon, key, first, "processing")
        # The child is frozen before the kill so the job is surely mid-way: a 1 s job on a
        # fast machine could finish within a fixed wait, and then nothing is left to recover.
        os.kill(wait_child(daemon), signal.SIGSTOP)
        assert job(daemon, key, first)["status"] == "processing"
        assert daemon.proc is not None
        victims = [daemon.proc.pid, *all_children(daemon.proc.pid)]
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        daemon.proc.wait(10)
        daemon.proc = None
        wait_until(lambda: not any(pid_alive(p) for p in victims), 10, "every victim dying")
        assert integrity(daemon) == "ok"
        daemon.start()
        restart = time.monotonic()
        wait_until(
            lambda: all(job(daemon, key, j)["status"] == "completed" for j in (first, second)),
            600,
            "both jobs completing",
        )
        completed_s = time.monotonic() - restart
        # The restart says what it did with the job it found running (an id, nothing more).
        requeued = f"job {first} was left running by a daemon that stopped: requeued"
        assert requeued in daemon.log_path.read_text()
        for job_id in (first, second):
            assert ledger(daemon, job_id) == [("charge", 1)]
            assert not (daemon.data_dir / "jobs" / job_id / "inputs").exists()
        assert credits_used(daemon, key) == 2 and integrity(daemon) == "ok"
        before = job(daemon, key, first)
        assert daemon.stop() == 0
        time.sleep(1.1)  # a URL signed a second later differs
        daemon.start()
        fresh = job(daemon, key, first)
        assert fresh["output_url"] != before["output_url"]
        got = fetch_all(fresh)
        assert {name: r.status_code for name, r in got.items()} == {n: 200 for n in got}
        assert set(got) >= {"output", "preview", "front"}
        assert got["output"].headers["content-type"] == "video/mp4"
        assert got["output"].content[4:8] == b"ftyp"
        faults.tried(
            "kill -9 of the daemon and its children mid-job, then restart",
            1,
            jobs_lost=0,
            double_charges=0,
            restart_to_both_completed_s=round(completed_s, 1),
        )
        faults.tried("completed output fetched with a fresh URL after a restart", 1)

        with daemon.client(key) as client:
            assert_problem(client.post(f"/jobs/{first}/cancel"), 409, "job_finished")
            assert client.delete(f"/jobs/{first}").status_code == 204
        assert not (daemon.data_dir / "jobs" / first).exists()
        for name, reply in fetch_all(fresh).items():
            assert_problem(reply, 410, "link_expired"), name
        assert ledger(daemon, first) == [("charge", 1)]
        faults.tried("delete of a completed job (files, URLs, ledger)", 1)

        done_at = finished_at(daemon, second)
        assert daemon.stop() == 0
        margin_s = 8.0
        retention_s = time.time() - done_at + margin_s
        daemon.env["FACEDUBD_OUTPUT_RETENTION_DAYS"] = repr(retention_s / 86400)
        daemon.start()
        kept = job(daemon, key, second)
        output = daemon.data_dir / "jobs" / second / "out" / "output.mp4"
        wait_until(lambda: not output.exists(), 60, "the retention sweep")
        swept_late_s = time.time() - (done_at + retention_s)
        assert swept_late_s >= -1.0, "swept before its retention ended"
        assert job_files(daemon, second) == []
        if kept["output_url"] is not None:
            gone = httpx.get(kept["output_url"], timeout=30)
            assert "retention" in assert_problem(gone, 410, "link_expired")["detail"]
        after = job(daemon, key, second)
        assert (after["status"], after["output_url"], after["artifacts"]) == ("completed", None, {})
        faults.tried("retention sweep of an output", 1, swept_after_expiry_s=round(swept_late_s, 1))

        purged = daemon.admin("users", "purge", "kill9@example.com", "--yes")
        assert purged.returncode == 0, purged.stderr
        with daemon.client(key) as client:
            assert_problem(client.get("/usage"), 401, "unauthorized")
        left = user_rows(daemon, user_id, [first, second])
        assert left == {
            "users": 0,
            "api_keys": 0,
            "jobs": 0,
            "job_events": 0,
            "idempotency": 0,
            "ledger": 2,
        }
        assert not (daemon.data_dir / "jobs" / second).exists()
        assert ledger(daemon, first) == ledger(daemon, second) == [("charge", 1)]
        assert integrity(daemon) == "ok"
        faults.tried("purge of a user (everything but the ledger)", 1)
    finally:
        if daemon.proc is not None:
            daemon.stop(signal.SIGKILL)
