"""Sliding-window rate limits (window lowered by configuration) and models_loading."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from facedubd.models.wheels import cache_lock
from tests.api.test_api import assert_problem
from tests.harness import Daemon, make_daemon

WINDOW_S = 2


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    settings = {
        "workers": 0,
        "rate_window_s": WINDOW_S,
        "rate_post_jobs": 2,
        "rate_get_jobs": 3,
        "rate_other": 4,
        "auth_failures_per_window": 3,
    }
    daemon = make_daemon(tmp_path_factory.mktemp("limits"), settings)
    daemon.start()
    yield daemon
    assert daemon.stop() == 0


def assert_limited(reply: httpx.Response, bucket: str, limit: int) -> None:
    assert_problem(reply, 429, "rate_limited")
    retry = reply.headers["Retry-After"]
    assert retry.isdigit() and 1 <= int(retry) <= WINDOW_S
    assert reply.headers["RateLimit-Policy"] == f'"{bucket}";q={limit};w={WINDOW_S}'
    assert reply.headers["RateLimit"].startswith(f'"{bucket}";r=0;t=')


def test_get_jobs_bucket_is_shared_and_slides(limited: Daemon) -> None:
    _, key = limited.create_user("get@example.com")
    with limited.client(key) as client:
        first = client.get("/jobs")
        assert first.headers["RateLimit"].startswith('"get_jobs";r=2;')
        assert client.get("/jobs/0123456789ab").status_code == 404
        assert client.get("/jobs").status_code == 200
        assert_limited(client.get("/jobs"), "get_jobs", 3)
        assert client.get("/usage").status_code == 200
        time.sleep(WINDOW_S + 0.2)
        assert client.get("/jobs").status_code == 200


def test_other_bucket(limited: Daemon) -> None:
    _, key = limited.create_user("other@example.com")
    with limited.client(key) as client:
        for _ in range(4):
            assert client.get("/usage").status_code == 200
        assert_limited(client.get("/api-keys"), "other", 4)


def test_post_jobs_counted_before_validation(limited: Daemon) -> None:
    _, key = limited.create_user("post@example.com")
    with limited.client(key) as client:
        for _ in range(2):
            assert_problem(client.post("/jobs", json={}), 400, "invalid_request")
        assert_limited(client.post("/jobs", json={}), "post_jobs", 2)


def test_failed_auth_limited_per_address(limited: Daemon) -> None:
    _, key = limited.create_user("auth@example.com")
    time.sleep(WINDOW_S + 0.2)
    with limited.client("fdb_" + "x" * 40) as wrong:
        for _ in range(3):
            assert_problem(wrong.get("/usage"), 401, "unauthorized")
        assert_problem(wrong.get("/usage"), 429, "rate_limited")
    with limited.client(key) as right:
        assert_problem(right.get("/usage"), 429, "rate_limited")
        time.sleep(WINDOW_S + 0.2)
        assert right.get("/usage").status_code == 200


def test_models_loading_answers_503_with_retry_after(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    daemon = make_daemon(tmp_path, {"models_wait_s": 0.5}, env={"FACEDUB_CACHE_DIR": str(cache)})
    with cache_lock(cache):  # the daemon's model preparation waits behind this lock
        daemon.start()
        try:
            with daemon.client() as client:
                assert client.get("/healthz").json() == {"status": "ok", "models": "loading"}
            _, key = daemon.create_user("early@example.com")
            files = {"character_photo": ("p", b"x"), "reference_video": ("v", b"y")}
            with daemon.client(key) as client:
                reply = client.post("/jobs", files=files, data={"duration": "2"})
                assert_problem(reply, 503, "models_loading")
                assert int(reply.headers["Retry-After"]) >= 1
                assert client.get("/usage").json()["credits_used"] == 0
        finally:
            daemon.stop(timeout=30)
