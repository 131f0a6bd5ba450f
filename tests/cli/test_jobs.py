"""`jobs` against a real facedubd with no worker slots (FACEDUBD_WORKERS=0), so jobs stay
queued until the test moves them: tables, --json bodies, and exit codes 4, 5, 6 and 8."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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

Sample = Callable[[str], Path]


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = start_daemon(tmp_path_factory.mktemp("idle"), {"FACEDUBD_WORKERS": "0"})
    try:
        yield running
    finally:
        stop_daemon(running)


@pytest.fixture
def inputs(sample: Sample) -> tuple[str, str]:
    return str(sample("grace_hopper.jpg")), str(sample("single_face.mp4"))


def user_env(daemon: Daemon, name: str) -> dict[str, str]:
    """A fresh account per test (over the socket, a key selects the account)."""
    return {"FACEDUB_API_KEY": daemon.create_user(f"{name}@example.com")}


def test_create_list_get_and_the_concurrency_cap(idle: Daemon, inputs: tuple[str, str]) -> None:
    env = user_env(idle, "cap")
    empty = run_facedub("jobs", "list", "--json", daemon=idle, env=env)
    assert (empty.code, empty.stdout) == (0, "[]\n")

    first = run_facedub("jobs", "create", *inputs, "--duration", "2", daemon=idle, env=env)
    assert first.code == 0, first.stderr
    assert first.stdout.splitlines()[1:3] == ["status:          queued", "credits charged: 1"]
    first_id = first.stdout.splitlines()[0].split()[-1]
    assert first.stderr == (
        f"follow it: facedub jobs watch {first_id}; "
        f"once it completes, facedub jobs download {first_id}\n"
    )

    second = run_facedub("--json", "jobs", "create", *inputs, "-d", "2", daemon=idle, env=env)
    created = json.loads(second.stdout)
    assert second.stdout.count("\n") == 1
    assert created == {
        "job_id": created["job_id"],
        "status": "queued",
        "credits_charged": 1,
        "is_overage": False,
    }

    third = run_facedub("jobs", "create", *inputs, "-d", "2", "-q", daemon=idle, env=env)
    assert third.code == 5
    one_error_line(third, "concurrency_limit")

    table = run_facedub("jobs", "list", daemon=idle, env=env)
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "STAGE", "DURATION", "CREDITS", "AGE"]
    assert [row.split()[:5] for row in rows] == [
        [created["job_id"], "queued", "queued", "2s", "1"],
        [first_id, "queued", "queued", "2s", "1"],
    ]
    limited = json.loads(
        run_facedub("jobs", "list", "-n", "1", "--json", daemon=idle, env=env).stdout
    )
    assert [job["id"] for job in limited] == [created["job_id"]]

    shown = run_facedub("jobs", "get", first_id, daemon=idle, env=env)
    assert shown.stdout.splitlines()[:3] == [
        f"id:       {first_id}",
        "status:   queued",
        "stage:    queued",
    ]
    body = json.loads(run_facedub("jobs", "get", first_id, "--json", daemon=idle, env=env).stdout)
    assert (body["id"], body["duration_seconds"], body["output_url"]) == (first_id, 2, None)


def test_cancel_watch_download_delete(idle: Daemon, inputs: tuple[str, str]) -> None:
    env = user_env(idle, "cancel")
    job_id = json.loads(
        run_facedub("--json", "jobs", "create", *inputs, "-d", "2", daemon=idle, env=env).stdout
    )["job_id"]
    other = json.loads(
        run_facedub("--json", "jobs", "create", *inputs, "-d", "2", daemon=idle, env=env).stdout
    )["job_id"]
    human = run_facedub("jobs", "cancel", other, daemon=idle, env=env)
    assert (human.code, human.stdout) == (0, f"cancelled {other} at stage queued\n")

    not_yet = run_facedub("jobs", "download", job_id, daemon=idle, env=env)
    assert not_yet.code == 8
    one_error_line(not_yet, "job_not_finished")

    cancelled = run_facedub("jobs", "cancel", job_id, "--json", daemon=idle, env=env)
    body = json.loads(cancelled.stdout)
    assert (body["id"], body["status"], body["error_code"]) == (job_id, "failed", "cancelled")
    again = run_facedub("jobs", "cancel", job_id, "--json", daemon=idle, env=env)
    assert again.code == 8
    one_error_line(again, "job_finished")

    watched = run_facedub("jobs", "watch", job_id, "--json", daemon=idle, env=env)
    assert watched.code == 6
    lines = watched.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["error_code"] == "cancelled"
    assert watched.stderr.startswith(f"error: job_failed: job {job_id} failed at stage queued")

    download = run_facedub("jobs", "download", job_id, daemon=idle, env=env)
    assert download.code == 6

    deleted = run_facedub("jobs", "delete", job_id, daemon=idle, env=env)
    assert (deleted.code, deleted.stdout) == (0, f"deleted {job_id}\n")
    gone = run_facedub("jobs", "get", job_id, daemon=idle, env=env)
    assert gone.code == 4
    one_error_line(gone, "not_found")
    usage = json.loads(run_facedub("usage", "--json", daemon=idle, env=env).stdout)
    assert usage["credits_used"] == 0  # refunded


def test_refused_inputs_are_exit_8(idle: Daemon, inputs: tuple[str, str], sample: Sample) -> None:
    env = user_env(idle, "refused")
    zero = run_facedub("jobs", "create", *inputs, "--duration", "0", daemon=idle, env=env)
    assert zero.code == 8
    one_error_line(zero, "invalid_duration")
    no_face = sample("free-mountain-vector-01.jpg")
    refused = run_facedub("jobs", "create", str(no_face), inputs[1], "-q", daemon=idle, env=env)
    assert refused.code == 8
    one_error_line(refused, "no_face_in_photo")
    assert (
        json.loads(run_facedub("usage", "--json", daemon=idle, env=env).stdout)["credits_used"] == 0
    )


def test_wait_ends_with_exit_6_when_the_job_fails(
    idle: Daemon, inputs: tuple[str, str], tmp_path: Path
) -> None:
    env = user_env(idle, "waiter")
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "FACEDUB_SOCKET": str(idle.socket), **env}
    waiting = subprocess.Popen(
        [str(FACEDUB), "--json", "jobs", "create", *inputs, "-d", "2", "--wait", "-o", "x.mp4"],
        env=full_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        job_id = ""
        deadline = time.monotonic() + 60
        while not job_id and time.monotonic() < deadline:
            listed = json.loads(run_facedub("jobs", "list", "--json", daemon=idle, env=env).stdout)
            job_id = listed[0]["id"] if listed else ""
            time.sleep(0.3)
        assert run_facedub("jobs", "cancel", job_id, daemon=idle, env=env).code == 0
        stdout, stderr = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 6, stderr
    final = json.loads(stdout)
    assert (final["id"], final["status"], final["error_code"]) == (job_id, "failed", "cancelled")
    assert stderr.strip().splitlines()[-1].startswith("error: job_failed: ")
    assert not (tmp_path / "x.mp4").exists()
