"""Bounded load on loopback: 50 clients poll a job and the job list while 2 jobs run;
then two users each send 8 parallel submissions. FACEDUB_LOAD_S sets the polling time
(10 s in `make test`, 60 s in `make fuzz`)."""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.daemon.faultkit import integrity, ledger
from tests.daemon.test_lifecycle import submit, wait_for
from tests.faultlog import FaultLog
from tests.harness import Daemon, make_daemon

pytestmark = pytest.mark.slow
CLIENTS = 50
LOAD_S = float(os.environ.get("FACEDUB_LOAD_S", "10"))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    settings = {"workers": 2, "rate_get_jobs": 1_000_000, "shutdown_grace_s": 2}
    daemon = make_daemon(tmp_path_factory.mktemp("load"), settings)
    daemon.start()
    daemon.wait_models()
    yield daemon
    if daemon.proc is not None:
        daemon.stop(signal.SIGKILL)


def poll(daemon: Daemon, key: str, job_id: str, until: float) -> tuple[list[float], list[str]]:
    """Latencies (s) of answered requests, and what went wrong otherwise."""
    latencies: list[float] = []
    problems: list[str] = []
    with daemon.client(key) as client:
        turn = 0
        while time.monotonic() < until:
            path = f"/jobs/{job_id}" if turn % 2 == 0 else "/jobs"
            turn += 1
            start = time.monotonic()
            try:
                reply = client.get(path, params={} if turn % 2 else {"limit": 10})
            except httpx.HTTPError as error:
                problems.append(type(error).__name__)
                continue
            latencies.append(time.monotonic() - start)
            if reply.status_code == 429 and "Retry-After" in reply.headers:
                continue
            if reply.status_code != 200:
                problems.append(f"{path}: {reply.status_code}")
    return latencies, problems


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def test_fifty_pollers_while_two_jobs_run(
    loaded: Daemon, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    _, key = loaded.create_user("load@example.com")
    jobs = [submit(loaded, key, sample), submit(loaded, key, sample)]
    for job_id in jobs:
        wait_for(loaded, key, job_id, "processing", timeout=120)
    until = time.monotonic() + LOAD_S
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda i: poll(loaded, key, jobs[i % 2], until), range(CLIENTS)))
    latencies = [s for found, _ in results for s in found]
    problems = [p for _, found in results for p in found]
    assert problems == []
    assert len(latencies) >= CLIENTS
    with loaded.client(key) as client:
        states = [client.get(f"/jobs/{j}").json()["status"] for j in jobs]
        assert set(states) <= {"processing", "completed"}, states
        for job_id in jobs:
            client.post(f"/jobs/{job_id}/cancel")
    assert integrity(loaded) == "ok"
    faults.tried(
        f"{CLIENTS} clients polling a job and the list for {LOAD_S:g} s while 2 jobs run",
        len(latencies),
        errors=0,
        requests_per_s=round(len(latencies) / LOAD_S, 1),
        p50_ms=round(statistics.median(latencies) * 1000, 1),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 1),
    )


def test_two_users_eight_parallel_submissions_each(
    loaded: Daemon, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    keys = [loaded.create_user(f"burst{i}@example.com")[1] for i in range(2)]
    files = {
        "character_photo": ("p.jpg", sample("grace_hopper.jpg").read_bytes()),
        "reference_video": ("v.mp4", sample("single_face.mp4").read_bytes()),
    }
    gate = threading.Barrier(16)

    def send(key: str) -> httpx.Response:
        with loaded.client(key) as client:
            gate.wait()
            return client.post("/jobs", files=files, data={"duration": "2"})

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(send, keys * 8))
    for key in keys:
        mine = [r for k, r in zip(keys * 8, replies, strict=True) if k == key]
        assert sorted(r.status_code for r in mine) == [200, 200] + [429] * 6
        assert all(r.json()["code"] == "concurrency_limit" for r in mine if r.status_code == 429)
        with loaded.client(key) as client:
            listed = client.get("/jobs").json()
            assert len(listed) == 2
            assert client.get("/usage").json()["credits_used"] == 2
            for job in listed:
                assert ledger(loaded, job["id"]) == [("charge", 1)]
                client.post(f"/jobs/{job['id']}/cancel")
    faults.tried("two users sending 8 parallel submissions each", 16, admitted=4, double_charges=0)
