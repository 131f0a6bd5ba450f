"""FaceDubClient against a stand-in for the hosted api.facedub.io (httpx MockTransport):
the behaviours that hosted differs in (no /auth/token, a CDN for outputs)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from facedub_cli.client import FaceDubClient
from facedub_cli.errors import FaceDubError


def problem(status: int, code: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/problem+json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = {"type": "about:blank", "title": code, "status": status, "code": code, "detail": code}
    return httpx.Response(status, headers=headers, content=json.dumps(body))


def make_client(
    handler: httpx.MockTransport, sleeps: list[float], notes: list[str]
) -> FaceDubClient:
    return FaceDubClient(
        "https://api.facedub.io",
        api_key="fdb_test",
        transport=handler,
        sleep=sleeps.append,
        on_retry=notes.append,
    )


def test_rate_limited_is_retried_after_retry_after() -> None:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Authorization"])
        if len(calls) < 3:
            return problem(429, "rate_limited", retry_after="4")
        return httpx.Response(200, json={"plan": "agency"})

    sleeps: list[float] = []
    notes: list[str] = []
    with make_client(httpx.MockTransport(handle), sleeps, notes) as client:
        assert client.usage() == {"plan": "agency"}
    assert sleeps == [4.0, 4.0]
    assert calls == ["Bearer fdb_test"] * 3
    assert notes[0].startswith("rate_limited: retrying in 4s (attempt 1 of 3)")


def test_retries_give_up_and_concurrency_limit_is_never_retried() -> None:
    def always_limited(request: httpx.Request) -> httpx.Response:
        return problem(429, "rate_limited", retry_after="1")

    sleeps: list[float] = []
    with (
        make_client(httpx.MockTransport(always_limited), sleeps, []) as client,
        pytest.raises(FaceDubError) as caught,
    ):
        client.list_jobs()
    assert (caught.value.code, caught.value.exit_code, len(sleeps)) == ("rate_limited", 5, 3)

    def busy(request: httpx.Request) -> httpx.Response:
        return problem(429, "concurrency_limit")

    sleeps = []
    with (
        make_client(httpx.MockTransport(busy), sleeps, []) as client,
        pytest.raises(FaceDubError) as caught,
    ):
        client.get_job("abc")
    assert (caught.value.code, caught.value.exit_code, sleeps) == ("concurrency_limit", 5, [])


def test_upload_is_resent_whole_after_a_retry(tmp_path: Path) -> None:
    photo, video = tmp_path / "p.jpg", tmp_path / "v.mp4"
    photo.write_bytes(b"photo" * 1000)
    video.write_bytes(b"video" * 100_000)
    bodies: list[bytes] = []
    keys: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        keys.append(request.headers["Idempotency-Key"])
        if len(bodies) == 1:
            return problem(503, "models_loading", retry_after="2")
        return httpx.Response(200, json={"job_id": "j1", "status": "queued"})

    sleeps: list[float] = []
    with make_client(httpx.MockTransport(handle), sleeps, []) as client:
        created = client.create_job(photo, video, 3)
    assert created["job_id"] == "j1"
    assert sleeps == [2.0]
    assert bodies[0] == bodies[1] and len(bodies[0]) > 500_000
    assert keys[0] == keys[1]


def test_wait_polls_when_no_stream_token_and_cdn_download_has_no_key(tmp_path: Path) -> None:
    states = iter(["queued", "processing", "completed"])
    seen_paths: list[str] = []
    cdn_auth: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen_paths.append(request.url.path)
        if request.url.host == "cdn.facedub.io":
            cdn_auth.append(request.headers.get("Authorization"))
            return httpx.Response(200, content=b"MP4DATA" * 10)
        if request.url.path == "/auth/token":
            return httpx.Response(404, json={"detail": "Not Found"})
        status = next(states)
        url = "https://cdn.facedub.io/out.mp4?sig=1" if status == "completed" else None
        return httpx.Response(200, json={"id": "j1", "status": status, "output_url": url})

    sleeps: list[float] = []
    updates: list[str] = []
    mock = httpx.MockTransport(handle)
    client = FaceDubClient(
        api_key="fdb_test", transport=mock, external_transport=mock, sleep=sleeps.append
    )
    with client:
        job = client.wait_for_job("j1", lambda job, raw: updates.append(job["status"]))
        saved = client.download(job["output_url"], tmp_path / "out.mp4")
    assert saved.read_bytes() == b"MP4DATA" * 10
    assert saved.stat().st_mode & 0o777 == 0o600
    assert cdn_auth == [None]
    assert updates == ["queued", "processing", "completed"]
    assert sleeps == [3.0, 3.0]
    assert job["output_url"].startswith("https://cdn.facedub.io/")
    assert seen_paths[0] == "/auth/token"
