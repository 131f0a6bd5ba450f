"""Helpers for fault tests: the ledger and integrity read straight from the SQLite file,
a job's files on disk, and the pipeline child of a running daemon."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tests.daemon.test_lifecycle import pipeline_children
from tests.harness import Daemon


def db(daemon: Daemon) -> sqlite3.Connection:
    conn = sqlite3.connect(daemon.data_dir / "facedubd.db", timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def ledger(daemon: Daemon, job_id: str) -> list[tuple[str, int]]:
    """(kind, credits) rows of one job, oldest first."""
    conn = db(daemon)
    try:
        rows = conn.execute(
            "SELECT kind, credits FROM ledger WHERE job_id = ? ORDER BY id", (job_id,)
        ).fetchall()
    finally:
        conn.close()
    return [(str(kind), int(credits)) for kind, credits in rows]


def integrity(daemon: Daemon) -> str:
    conn = db(daemon)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def job_files(daemon: Daemon, job_id: str) -> list[Path]:
    folder = daemon.data_dir / "jobs" / job_id
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def stray_uploads(daemon: Daemon) -> list[Path]:
    folder = daemon.data_dir / "uploads"
    return sorted(folder.rglob("*")) if folder.exists() else []


def wait_child(daemon: Daemon, timeout: float = 60) -> int:
    """The pid of the daemon's (single) running pipeline child."""
    assert daemon.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pipeline_children(daemon.proc.pid)
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no pipeline child appeared")


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took `check` to hold; AssertionError after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
