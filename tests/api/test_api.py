"""The REST API against a real daemon on a real TCP port and Unix socket."""

from __future__ import annotations

import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from PIL import Image

from tests.harness import Daemon

JOB_FIELDS = {
    "id": str,
    "status": str,
    "stage": str,
    "output_url": (str, type(None)),
    "created_at": int,
    "error": (str, type(None)),
    "duration_seconds": int,
    "credits_charged": int,
    "progress": (float, int),
    "error_code": (str, type(None)),
    "artifacts": dict,
}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    return body


def form(
    media: dict[str, bytes],
    photo: str = "grace_hopper.jpg",
    video: str = "single_face.mp4",
    duration: Any = 2,
) -> dict[str, Any]:
    files = {
        "character_photo": ("p.jpg", media[photo] if photo in media else photo.encode()),
        "reference_video": ("v.mp4", media[video] if video in media else video.encode()),
    }
    data = {} if duration is None else {"duration": str(duration)}
    return {"files": files, "data": data}


@pytest.fixture(scope="module")
def alice(api_daemon: Daemon) -> str:
    return api_daemon.create_user("alice@example.com")[1]


@pytest.fixture(scope="module")
def bob(api_daemon: Daemon) -> str:
    return api_daemon.create_user("bob@example.com")[1]


def used(client: httpx.Client) -> int:
    value: int = client.get("/usage").json()["credits_used"]
    return value


def test_healthz_openapi_and_offline_docs(api_daemon: Daemon) -> None:
    with api_daemon.client() as client:
        assert client.get("/healthz").json() == {"status": "ok", "models": "ready"}
        spec = client.get("/openapi.json").json()
        for path in ("/jobs", "/jobs/{job_id}", "/jobs/{job_id}/stream", "/usage", "/api-keys"):
            assert path in spec["paths"]
        assert "/auth/token" in spec["paths"] and "/jobs/{job_id}/cancel" in spec["paths"]
        page = client.get("/docs")
        assert page.status_code == 200 and "/docs/assets/docs.js" in page.text
        assert "http" not in page.text.replace("/openapi.json", "")
        script = client.get("/docs/assets/docs.js")
        assert script.status_code == 200 and "openapi.json" in script.text
        assert_problem(client.get("/docs/assets/nope.js"), 404, "not_found")
        assert_problem(client.get("/no/such/path"), 404, "not_found")


def test_unauthorized_variants(api_daemon: Daemon, alice: str) -> None:
    with api_daemon.client() as client:
        assert_problem(client.get("/usage"), 401, "unauthorized")
        for header in ("Bearer", "Basic abc", "Bearer fdb_short", "Bearer " + "fdb_" + "x" * 40):
            reply = client.get("/jobs", headers={"Authorization": header})
            assert_problem(reply, 401, "unauthorized")
            # RFC 9110: a 401 names the scheme it wants
            assert reply.headers["www-authenticate"] == 'Bearer realm="facedub"'
    with api_daemon.client(alice) as client:
        made = client.post("/api-keys", json={"name": "to revoke"}).json()
        assert client.delete(f"/api-keys/{made['id']}").status_code == 200
    with api_daemon.client(made["key"]) as revoked:
        assert_problem(revoked.get("/usage"), 401, "unauthorized")


def test_socket_owner_without_key_and_tcp_needs_one(api_daemon: Daemon, alice: str) -> None:
    with api_daemon.socket_client() as local:
        usage = local.get("/usage")
        assert usage.status_code == 200 and usage.json()["plan"] == "agency"
        assert local.get("/jobs").status_code == 200
    with api_daemon.socket_client(alice) as as_alice:
        assert as_alice.get("/api-keys").json()[0]["name"] == "default"
    with api_daemon.client() as tcp:
        assert_problem(tcp.get("/jobs"), 401, "unauthorized")
    mode = api_daemon.socket_path.stat().st_mode & 0o777
    assert mode == 0o600


def test_api_keys_fields_cap_and_isolation(api_daemon: Daemon, bob: str) -> None:
    _, carol = api_daemon.create_user("carol@example.com")
    with api_daemon.client(carol) as client:
        created = client.post("/api-keys", json={"name": "Production Key"})
        assert created.status_code == 200
        body = created.json()
        assert set(body) == {"id", "name", "key", "prefix", "created_at"}
        assert body["id"].startswith("key_") and body["key"].startswith("fdb_")
        assert len(body["key"]) >= 36 and body["prefix"] == body["key"][:12]
        assert isinstance(body["created_at"], int)
        for i in range(3):
            assert client.post("/api-keys", json={"name": f"k{i}"}).status_code == 200
        assert_problem(client.post("/api-keys", json={"name": "sixth"}), 400, "key_limit")
        listed = client.get("/api-keys").json()
        assert len(listed) == 5
        assert all(set(k) == {"id", "name", "prefix", "created_at", "last_used_at"} for k in listed)
        assert isinstance(listed[0]["last_used_at"], int)
        for bad in ({}, {"name": ""}, {"name": "x" * 101}, {"name": 5}, {"name": "a", "z": 1}):
            assert_problem(client.post("/api-keys", json=bad), 400, "invalid_request")
        assert_problem(client.post("/api-keys", content=b"{no"), 400, "invalid_request")
        with api_daemon.client(bob) as other:
            assert_problem(other.delete(f"/api-keys/{body['id']}"), 404, "not_found")
        revoked = client.delete(f"/api-keys/{body['id']}")
        assert set(revoked.json()) == {"id", "name", "prefix", "created_at", "revoked_at"}
        assert_problem(client.delete(f"/api-keys/{body['id']}"), 404, "not_found")
        assert_problem(client.delete("/api-keys/key_nothing"), 404, "not_found")
        assert client.post("/api-keys", json={"name": "again"}).status_code == 200


def test_usage_fields(api_daemon: Daemon, bob: str) -> None:
    with api_daemon.client(bob) as client:
        body = client.get("/usage").json()
    assert body == {
        "plan": "agency",
        "credits_used": 0,
        "credits_limit": 150,
        "bonus_credits": 0,
        "credits_remaining": 150,
    }
    assert api_daemon.admin("users", "grant", "bob@example.com", "7").returncode == 0
    with api_daemon.client(bob) as client:
        after = client.get("/usage").json()
    assert (after["bonus_credits"], after["credits_remaining"]) == (7, 157)


@pytest.mark.parametrize("duration", ["0", "31", "abc", "2.5", "-1", "", "\uff12"])  # full-width 2
def test_invalid_duration(
    api_daemon: Daemon, alice: str, media: dict[str, bytes], duration: str
) -> None:
    with api_daemon.client(alice) as client:
        before = used(client)
        reply = client.post("/jobs", **form(media, duration=duration))
        assert_problem(reply, 400, "invalid_duration")
        assert used(client) == before


@pytest.mark.parametrize(
    ("photo", "video", "duration", "status", "code"),
    [
        ("not an image at all", "single_face.mp4", 2, 400, "unreadable_photo"),
        ("free-mountain-vector-01.jpg", "single_face.mp4", 2, 400, "no_face_in_photo"),
        ("grace_hopper.jpg", "not a video at all", 2, 400, "unreadable_video"),
        ("grace_hopper.jpg", "no_face.mp4", 2, 400, "no_face_in_video"),
        ("grace_hopper.jpg", "single_face.mp4", 5, 400, "video_too_short"),
        ("BWPictureHuman.jpg", "single_face.mp4", 2, 413, "file_too_large"),
    ],
)
def test_inputs_refused_before_charging(
    api_daemon: Daemon,
    alice: str,
    media: dict[str, bytes],
    photo: str,
    video: str,
    duration: int,
    status: int,
    code: str,
) -> None:
    with api_daemon.client(alice) as client:
        before = used(client)
        assert_problem(client.post("/jobs", **form(media, photo, video, duration)), status, code)
        assert used(client) == before
        assert all(j["credits_charged"] >= 0 for j in client.get("/jobs").json())
    assert list((api_daemon.data_dir / "uploads").iterdir()) == []


def test_malformed_submissions(api_daemon: Daemon, alice: str, media: dict[str, bytes]) -> None:
    with api_daemon.client(alice) as client:
        assert_problem(client.post("/jobs", json={"duration": 2}), 400, "invalid_request")
        only_photo = {"files": {"character_photo": ("p.jpg", media["grace_hopper.jpg"])}}
        assert_problem(client.post("/jobs", **only_photo), 400, "invalid_request")
        broken = client.post(
            "/jobs",
            content=b"--xyz\r\nContent-Disposition: form-data; name=",
            headers={"content-type": "multipart/form-data; boundary=xyz"},
        )
        assert broken.status_code == 400
        # a JSON body that is not JSON says so, not "0: JSON decode error"
        for path in ("/api-keys", "/auth/token"):
            reply = client.post(
                path, content=b"{name", headers={"content-type": "application/json"}
            )
            body = assert_problem(reply, 400, "invalid_request")
            assert body["detail"] == "Invalid request: the body is not valid JSON."


def _cancel_all(client: httpx.Client) -> None:
    for job in client.get("/jobs").json():
        if job["status"] in ("queued", "processing"):
            client.post(f"/jobs/{job['id']}/cancel")


def test_job_lifecycle_fields_isolation_cancel_delete(
    api_daemon: Daemon, alice: str, bob: str, media: dict[str, bytes]
) -> None:
    with api_daemon.client(alice) as client, api_daemon.client(bob) as other:
        before = used(client)
        default = client.post("/jobs", **form(media, duration=None))
        assert "5 s" in assert_problem(default, 400, "video_too_short")["detail"]
        created = client.post("/jobs", **form(media))
        assert created.status_code == 200, created.text
        body = created.json()
        assert set(body) == {"job_id", "status", "credits_charged", "is_overage"}
        assert body["status"] == "queued" and body["credits_charged"] == 1
        assert body["is_overage"] is False and len(body["job_id"]) == 12
        job_id = body["job_id"]
        job = client.get(f"/jobs/{job_id}").json()
        for name, kind in JOB_FIELDS.items():
            assert isinstance(job[name], kind), name
        assert (job["status"], job["stage"], job["duration_seconds"]) == ("queued", "queued", 2)
        assert job["output_url"] is None and job["artifacts"] == {}
        assert used(client) == before + 1
        assert_problem(other.get(f"/jobs/{job_id}"), 404, "not_found")
        assert_problem(other.post(f"/jobs/{job_id}/cancel"), 404, "not_found")
        assert_problem(other.delete(f"/jobs/{job_id}"), 404, "not_found")
        assert job_id not in [j["id"] for j in other.get("/jobs").json()]
        cancelled = client.post(f"/jobs/{job_id}/cancel").json()
        assert (cancelled["status"], cancelled["error_code"]) == ("failed", "cancelled")
        assert cancelled["error"]
        assert used(client) == before
        assert_problem(client.post(f"/jobs/{job_id}/cancel"), 409, "job_finished")
        assert client.delete(f"/jobs/{job_id}").status_code == 204
        assert_problem(client.get(f"/jobs/{job_id}"), 404, "not_found")
        assert job_id not in [j["id"] for j in client.get("/jobs").json()]
        assert not (api_daemon.data_dir / "jobs" / job_id).exists()


def test_delete_refunds_a_queued_job(
    api_daemon: Daemon, alice: str, media: dict[str, bytes]
) -> None:
    with api_daemon.client(alice) as client:
        before = used(client)
        job_id = client.post("/jobs", **form(media)).json()["job_id"]
        assert used(client) == before + 1
        assert client.delete(f"/jobs/{job_id}").status_code == 204
        assert used(client) == before


def test_list_order_limit_and_paging(api_daemon: Daemon, media: dict[str, bytes]) -> None:
    _, dave = api_daemon.create_user("dave@example.com")
    with api_daemon.client(dave) as client:
        ids = []
        for _ in range(3):
            ids.append(client.post("/jobs", **form(media)).json()["job_id"])
            client.post(f"/jobs/{ids[-1]}/cancel")
        listed = [j["id"] for j in client.get("/jobs").json()]
        assert listed == ids[::-1]
        assert [j["id"] for j in client.get("/jobs", params={"limit": 1}).json()] == [ids[2]]
        page = client.get("/jobs", params={"before": ids[2], "limit": 50}).json()
        assert [j["id"] for j in page] == [ids[1], ids[0]]
        for bad in ({"limit": 0}, {"limit": 51}, {"limit": "x"}):
            assert_problem(client.get("/jobs", params=bad), 400, "invalid_request")


def test_eight_parallel_submissions_admit_exactly_two(
    api_daemon: Daemon, media: dict[str, bytes]
) -> None:
    _, erin = api_daemon.create_user("erin@example.com")

    def submit(_: int) -> httpx.Response:
        with api_daemon.client(erin) as client:
            return client.post("/jobs", **form(media))

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(submit, range(8)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200, 200] + [429] * 6
    for reply in replies:
        if reply.status_code == 429:
            assert_problem(reply, 429, "concurrency_limit")
    with api_daemon.client(erin) as client:
        assert used(client) == 2
        _cancel_all(client)
        assert used(client) == 0


def test_idempotent_replay_and_conflict(api_daemon: Daemon, media: dict[str, bytes]) -> None:
    _, fay = api_daemon.create_user("fay@example.com")
    with api_daemon.client(fay) as client:
        headers = {"Idempotency-Key": "order-42"}
        first = client.post("/jobs", headers=headers, **form(media))
        again = client.post("/jobs", headers=headers, **form(media))
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        assert len(client.get("/jobs").json()) == 1 and used(client) == 1
        other = client.post("/jobs", headers=headers, **form(media, duration=1))
        assert_problem(other, 409, "idempotency_conflict")
        _cancel_all(client)


def test_overage_and_credits_exhausted(api_daemon: Daemon, media: dict[str, bytes]) -> None:
    _, gus = api_daemon.create_user("gus@example.com", "--credits-limit", "1")
    with api_daemon.client(gus) as client:
        first = client.post("/jobs", **form(media)).json()
        assert first["is_overage"] is False
        second = client.post("/jobs", **form(media)).json()
        assert second["is_overage"] is True
        client.post(f"/jobs/{second['job_id']}/cancel")
        assert api_daemon.admin("users", "set-overage", "gus@example.com", "off").returncode == 0
        assert_problem(client.post("/jobs", **form(media)), 403, "credits_exhausted")
        usage = client.get("/usage").json()
        assert (usage["credits_used"], usage["credits_remaining"]) == (1, 0)
        _cancel_all(client)


def test_admin_changes_felt_on_next_request(api_daemon: Daemon) -> None:
    _, hal = api_daemon.create_user("hal@example.com")
    with api_daemon.client(hal) as client:
        assert client.get("/usage").status_code == 200
        assert api_daemon.admin("users", "suspend", "hal@example.com").returncode == 0
        assert_problem(client.get("/usage"), 403, "account_suspended")
        assert api_daemon.admin("users", "resume", "hal@example.com").returncode == 0
        assert client.get("/usage").status_code == 200
        assert api_daemon.admin("users", "set-plan", "hal@example.com", "pro").returncode == 0
        assert_problem(client.get("/jobs"), 403, "plan_no_api")
        assert api_daemon.admin("users", "set-plan", "hal@example.com", "agency").returncode == 0
        assert client.get("/usage").json()["plan"] == "agency"


def _secret(daemon: Daemon, name: str) -> bytes:
    return (daemon.data_dir / "secrets" / name).read_bytes()


def test_stream_tokens_and_sse(
    api_daemon: Daemon, alice: str, bob: str, media: dict[str, bytes]
) -> None:
    with api_daemon.client(alice) as client, api_daemon.client(bob) as other:
        job_id = client.post("/jobs", **form(media)).json()["job_id"]
        token = client.post("/auth/token").json()
        assert set(token) == {"token", "expires_in"} and token["expires_in"] == 900
        scoped = client.post("/auth/token", json={"job_id": job_id}).json()["token"]
        assert_problem(client.post("/auth/token", json={"job_id": "0" * 12}), 404, "not_found")
        url = f"/jobs/{job_id}/stream"
        assert_problem(client.get(url), 401, "unauthorized")
        assert_problem(client.get(url, params={"token": alice}), 401, "unauthorized")
        now = int(time.time())
        secret = _secret(api_daemon, "stream_jwt")
        claims = {"sub": "x", "typ": "stream", "exp": now + 60}
        forged = {
            "wrong signature": jwt.encode(claims, b"k" * 32, algorithm="HS256"),
            "alg none": jwt.encode(claims, None, algorithm="none"),
            "expired": jwt.encode({**claims, "exp": now - 5}, secret, algorithm="HS256"),
        }
        for why, bad in forged.items():
            assert_problem(client.get(url, params={"token": bad}), 401, "unauthorized"), why
        other_job = other.post("/jobs", **form(media)).json()["job_id"]
        assert_problem(
            client.get(f"/jobs/{other_job}/stream", params={"token": scoped}), 401, "unauthorized"
        )
        assert_problem(
            client.get(f"/jobs/{other_job}/stream", params={"token": token["token"]}),
            404,
            "not_found",
        )
        other.post(f"/jobs/{other_job}/cancel")
        events = []
        with httpx.stream(
            "GET", api_daemon.url + url, params={"token": scoped}, timeout=30
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                    if len(events) == 1:
                        client.post(f"/jobs/{job_id}/cancel")
                if line.startswith("event:"):
                    assert line == "event: job"
        assert [e["status"] for e in events] == ["queued", "failed"]
        assert events[-1]["error_code"] == "cancelled"
        assert set(events[0]) == set(JOB_FIELDS)
        assert resumed(api_daemon, url, scoped, "0") == ["failed"]
        assert resumed(api_daemon, url, scoped, last_id(api_daemon, url, scoped)) == []


def last_id(daemon: Daemon, url: str, token: str) -> str:
    with httpx.stream("GET", daemon.url + url, params={"token": token}, timeout=30) as stream:
        ids = [line[3:].strip() for line in stream.iter_lines() if line.startswith("id:")]
    return ids[-1]


def resumed(daemon: Daemon, url: str, token: str, last_event_id: str) -> list[str]:
    """The statuses a stream sends to a client resuming after `last_event_id`."""
    headers = {"Last-Event-ID": last_event_id}
    params = {"token": token}
    with httpx.stream("GET", daemon.url + url, params=params, headers=headers, timeout=30) as s:
        lines = list(s.iter_lines())
    return [json.loads(line[5:])["status"] for line in lines if line.startswith("data:")]


def test_signed_file_urls_tampered_and_expired(api_daemon: Daemon) -> None:
    from facedubd.api.security import sign_file_url

    secret = _secret(api_daemon, "url_signing")
    with api_daemon.client() as client:
        expired = sign_file_url(
            api_daemon.url, secret, "0" * 12, "output.mp4", int(time.time()) - 1
        )
        assert_problem(client.get(expired), 410, "link_expired")
        fresh = sign_file_url(api_daemon.url, secret, "0" * 12, "output.mp4", int(time.time()) + 60)
        assert_problem(client.get(fresh), 410, "link_expired")
        tampered = fresh.replace("0" * 12, "1" * 12)
        assert_problem(client.get(tampered), 403, "link_invalid")
        assert_problem(client.get(fresh.replace("expires=", "expires=9")), 403, "link_invalid")


def _image_bytes(image: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind)
    return buffer.getvalue()


def test_photo_judged_by_content_and_face_too_small(
    api_daemon: Daemon, media: dict[str, bytes]
) -> None:
    _, ivy = api_daemon.create_user("ivy@example.com")
    portrait = Image.open(io.BytesIO(media["grace_hopper.jpg"])).convert("RGB")
    webp = _image_bytes(portrait, "WEBP")
    small = portrait.resize((128, 150))
    canvas = Image.new("RGB", (640, 640), (128, 128, 128))
    canvas.paste(small, (256, 245))
    video = ("v.mp4", media["single_face.mp4"])
    with api_daemon.client(ivy) as client:
        as_text = {"character_photo": ("photo.txt", webp), "reference_video": video}
        created = client.post("/jobs", files=as_text, data={"duration": "2"})
        assert created.status_code == 200, created.text
        client.post(f"/jobs/{created.json()['job_id']}/cancel")
        far = {
            "character_photo": ("far.png", _image_bytes(canvas, "PNG")),
            "reference_video": video,
        }
        assert_problem(
            client.post("/jobs", files=far, data={"duration": "2"}), 400, "face_too_small"
        )
        assert used(client) == 0


def test_a_file_under_a_name_this_call_does_not_read_is_named(
    api_daemon: Daemon, alice: str, media: dict[str, bytes]
) -> None:
    """`-F photo=@p.jpg -F video=@v.mp4` answered "The form field photo is too long."."""
    files = {
        "photo": ("p.jpg", media["grace_hopper.jpg"]),
        "video": ("v.mp4", media["single_face.mp4"]),
    }
    with api_daemon.client(alice) as client:
        before = used(client)
        body = assert_problem(
            client.post("/jobs", files=files, data={"duration": "2"}), 400, "invalid_request"
        )
        assert body["detail"] == (
            "The form field photo takes no file: files go in character_photo and reference_video."
        )
        # a text field this call reads: it "is not one this call reads" was untrue
        as_duration = {
            "character_photo": ("p.jpg", media["grace_hopper.jpg"]),
            "duration": ("v.mp4", media["single_face.mp4"]),
        }
        body = assert_problem(client.post("/jobs", files=as_duration), 400, "invalid_request")
        assert body["detail"] == (
            "The form field duration takes no file: files go in character_photo and "
            "reference_video."
        )
        assert used(client) == before
