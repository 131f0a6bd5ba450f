"""Hostile input against a real daemon: other users' ids on every {id} path, forged stream
tokens, keys kept out of logs and bodies, odd upload names and shapes, failed-auth limits
per client address, and the modes of the socket and the data files."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from facedubd.api.app import create_app
from facedubd.api.security import sign_file_url
from tests.api.test_api import assert_problem, form
from tests.faultlog import FaultLog
from tests.harness import FACEDUBD, Daemon, make_daemon

AUTH_FAILURES = 5
WINDOW_S = 3


@pytest.fixture(scope="module")
def sec_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    settings = {
        "workers": 0,
        "max_photo_mb": 1,
        "rate_window_s": WINDOW_S,
        "rate_post_jobs": 1000,
        "rate_get_jobs": 1000,
        "rate_other": 1000,
        "auth_failures_per_window": AUTH_FAILURES,
    }
    daemon = make_daemon(tmp_path_factory.mktemp("sec"), settings)
    daemon.start()
    daemon.wait_models()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def users(sec_daemon: Daemon) -> dict[str, str]:
    """email -> API key; every key used in this module, to grep the log for afterwards."""
    return {email: sec_daemon.create_user(email)[1] for email in ("ann@x.org", "ben@x.org")}


@pytest.fixture(scope="module")
def media(sample: Callable[[str], Path]) -> dict[str, bytes]:
    return {name: sample(name).read_bytes() for name in ("grace_hopper.jpg", "single_face.mp4")}


@pytest.fixture(scope="module")
def ben_job(sec_daemon: Daemon, users: dict[str, str], media: dict[str, bytes]) -> str:
    with sec_daemon.client(users["ben@x.org"]) as client:
        reply = client.post("/jobs", **form(media))
    assert reply.status_code == 200, reply.text
    job_id: str = reply.json()["job_id"]
    return job_id


def id_paths() -> set[tuple[str, str]]:
    """(method, path) of every operation whose path names an id."""
    spec: dict[str, Any] = create_app(None).openapi()  # type: ignore[arg-type]
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if "{" in path
        for method in operations
    }


def test_someone_elses_id_on_every_id_path(
    sec_daemon: Daemon, users: dict[str, str], ben_job: str, faults: FaultLog
) -> None:
    ann, ben = users["ann@x.org"], users["ben@x.org"]
    with sec_daemon.client(ben) as client:
        ben_key = client.post("/api-keys", json={"name": "second"}).json()["id"]
    with sec_daemon.client(ann) as client:
        token = client.post("/auth/token").json()["token"]
        attempts = {
            ("GET", "/jobs/{job_id}"): client.get(f"/jobs/{ben_job}"),
            ("POST", "/jobs/{job_id}/cancel"): client.post(f"/jobs/{ben_job}/cancel"),
            ("DELETE", "/jobs/{job_id}"): client.delete(f"/jobs/{ben_job}"),
            ("GET", "/jobs/{job_id}/stream"): client.get(
                f"/jobs/{ben_job}/stream", params={"token": token}
            ),
            ("DELETE", "/api-keys/{key_id}"): client.delete(f"/api-keys/{ben_key}"),
        }
        by_body = {
            "POST /auth/token": client.post("/auth/token", json={"job_id": ben_job}),
            "GET /jobs?before=": client.get("/jobs", params={"before": ben_job}),
        }
    files_path = {("GET", "/files/{job_id}/{name}")}
    assert set(attempts) | files_path == id_paths(), "a new {id} path needs a test here"
    for reply in [*attempts.values(), *by_body.values()]:
        assert_problem(reply, 404, "not_found")
    with sec_daemon.client(ben) as client:
        assert client.get(f"/jobs/{ben_job}").json()["status"] == "queued"
        assert ben_key in [k["id"] for k in client.get("/api-keys").json()]
    faults.tried("another user's id on every {id} path and id parameter", len(attempts) + 2)


def test_files_path_needs_a_signature_made_with_the_daemon_secret(
    sec_daemon: Daemon, ben_job: str, faults: FaultLog
) -> None:
    expires = int(time.time()) + 600
    forged = sign_file_url(sec_daemon.url, b"k" * 32, ben_job, "output.mp4", expires)
    with sec_daemon.client() as client:
        assert_problem(client.get(forged), 403, "link_invalid")
        bare = client.get(f"/files/{ben_job}/output.mp4")
        assert_problem(bare, 403, "link_invalid")
        for name in ("..%2F..%2Ffacedubd.db", "..", "output.mp4%00.jpg", "secrets"):
            reply = client.get(f"/files/{ben_job}/{name}", params={"expires": expires})
            assert reply.status_code in (403, 404), (name, reply.status_code)
            assert "facedubd.db" not in reply.text or reply.status_code == 404
    faults.tried("file URLs forged, unsigned or with traversal names", 6)


def _secret(daemon: Daemon, name: str) -> bytes:
    return (daemon.data_dir / "secrets" / name).read_bytes()


def test_forged_stream_tokens_are_refused(
    sec_daemon: Daemon, users: dict[str, str], media: dict[str, bytes], faults: FaultLog
) -> None:
    ann = users["ann@x.org"]
    with sec_daemon.client(ann) as client:
        job_id = client.post("/jobs", **form(media)).json()["job_id"]
        other_job = client.post("/jobs", **form(media)).json()["job_id"]
        good = client.post("/auth/token", json={"job_id": job_id}).json()["token"]
        ann_id = jwt.decode(good, options={"verify_signature": False})["sub"]
        now = int(time.time())
        secret = _secret(sec_daemon, "stream_jwt")
        claims = {"sub": ann_id, "typ": "stream", "exp": now + 60, "job": job_id}
        header, _payload, _sig = good.split(".")
        forged = {
            "wrong signature": jwt.encode(claims, b"w" * 32, algorithm="HS256"),
            "alg none": jwt.encode(claims, None, algorithm="none"),
            "alg none, signature kept": f"{jwt.encode(claims, None, algorithm='none')}{_sig}",
            "HS384 with the right secret": _hs384(claims, secret),
            "signed with the URL secret": jwt.encode(
                claims, _secret(sec_daemon, "url_signing"), algorithm="HS256"
            ),
            "expired": jwt.encode({**claims, "exp": now - 5}, secret, algorithm="HS256"),
            "no expiry": jwt.encode(
                {k: v for k, v in claims.items() if k != "exp"}, secret, algorithm="HS256"
            ),
            "wrong type": jwt.encode({**claims, "typ": "access"}, secret, algorithm="HS256"),
            "another job's": client.post("/auth/token", json={"job_id": other_job}).json()["token"],
            "payload swapped": f"{header}.{_b64_json({**claims, 'job': other_job})}.{_sig}",
            "an API key": ann,
            "empty": "",
            "garbage": "a.b.c",
        }
        url = f"/jobs/{job_id}/stream"
        for why, bad in forged.items():
            reply = client.get(url, params={"token": bad})
            assert_problem(reply, 401, "unauthorized"), why
            assert bad == "" or bad not in reply.text
        with sec_daemon.client(users["ben@x.org"]) as ben:
            bens = ben.post("/auth/token").json()["token"]
        assert_problem(client.get(url, params={"token": bens}), 404, "not_found")
        for job in (job_id, other_job):
            client.post(f"/jobs/{job}/cancel")
    faults.tried("forged, expired, alg-none, cross-user and cross-job stream tokens", 14)


def _hs384(claims: dict[str, Any], secret: bytes) -> str:
    """An HS384 token (only HS256 is accepted), signed by hand: PyJWT warns on short keys."""
    import hashlib
    import hmac

    signing = f"{_b64_json({'alg': 'HS384', 'typ': 'JWT'})}.{_b64_json(claims)}"
    digest = hmac.new(secret, signing.encode(), hashlib.sha384).digest()
    return f"{signing}.{_b64(digest)}"


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64_json(value: dict[str, Any]) -> str:
    import json

    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"b0undary") -> bytes:
    """A body from (Content-Disposition value, data) pairs, built byte by byte."""
    body = b""
    for disposition, data in parts:
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n"
        body += data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


ODD_NAMES = [
    b"../../../../../../tmp/pwned.jpg",
    b"..\\..\\..\\pwned.jpg",
    b"/etc/passwd",
    b"a\x00b.jpg",
    b"line\r\nX-Injected: 1.jpg",
    "\u202egpj.exe".encode(),
    b"\xff\xfe\xfd.jpg",
    b"x" * 4000 + b".jpg",
]


@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_odd_upload_file_names_write_nothing_outside(
    sec_daemon: Daemon,
    users: dict[str, str],
    media: dict[str, bytes],
    name: bytes,
    faults: FaultLog,
) -> None:
    body = _multipart(
        [
            (
                b'form-data; name="character_photo"; filename="' + name + b'"',
                media["grace_hopper.jpg"],
            ),
            (
                b'form-data; name="reference_video"; filename="' + name + b'"',
                media["single_face.mp4"],
            ),
            (b'form-data; name="duration"', b"2"),
        ]
    )
    before = set(Path("/tmp").iterdir())
    with sec_daemon.client(users["ann@x.org"]) as client:
        reply = client.post(
            "/jobs",
            content=body,
            headers={"content-type": "multipart/form-data; boundary=b0undary"},
        )
        assert reply.status_code in (200, 400), reply.text
        if reply.status_code == 200:
            job_id = reply.json()["job_id"]
            inputs = sec_daemon.data_dir / "jobs" / job_id / "inputs"
            assert sorted(p.name for p in inputs.iterdir()) == ["photo", "video"]
            assert client.post(f"/jobs/{job_id}/cancel").status_code == 200
        else:
            assert_problem(reply, 400, "invalid_request")
    assert not any("pwned" in p.name for p in set(Path("/tmp").iterdir()) - before)
    assert not list(sec_daemon.data_dir.rglob("*pwned*"))
    assert list((sec_daemon.data_dir / "uploads").iterdir()) == []
    shown = ascii(name.decode("utf-8", "backslashreplace")[:24])
    faults.tried(f"upload file name {shown}", 1, answered=reply.status_code)


def test_hostile_form_shapes(
    sec_daemon: Daemon, users: dict[str, str], media: dict[str, bytes], faults: FaultLog
) -> None:
    photo = (b'form-data; name="character_photo"; filename="p.jpg"', media["grace_hopper.jpg"])
    video = (b'form-data; name="reference_video"; filename="v.mp4"', media["single_face.mp4"])
    multipart = {"content-type": "multipart/form-data; boundary=b0undary"}
    cases: dict[str, tuple[bytes, dict[str, str], int, str]] = {
        "too many parts": (
            _multipart([photo, video] + [(b'form-data; name="f%d"' % i, b"x") for i in range(20)]),
            multipart,
            400,
            "invalid_request",
        ),
        "oversize photo part": (
            _multipart([(photo[0], b"\xff" * 1_100_000), video]),
            multipart,
            413,
            "file_too_large",
        ),
        "oversize text part": (
            _multipart([photo, video, (b'form-data; name="duration"', b"2" * 5000)]),
            multipart,
            400,
            "invalid_request",
        ),
        "missing boundary": (
            _multipart([photo, video]),
            {"content-type": "multipart/form-data"},
            400,
            "invalid_request",
        ),
        "wrong boundary": (
            _multipart([photo, video], b"other"),
            multipart,
            400,
            "invalid_request",
        ),
        "not multipart": (b"duration=2", {"content-type": "text/plain"}, 400, "invalid_request"),
        "truncated": (_multipart([photo, video])[:-5000], multipart, 400, "invalid_request"),
        "field twice": (_multipart([photo, photo, video]), multipart, 400, "invalid_request"),
        "huge part header": (
            _multipart([(b'form-data; name="' + b"n" * 200_000 + b'"', b"x"), photo, video]),
            multipart,
            400,
            "invalid_request",
        ),
    }
    with sec_daemon.client(users["ben@x.org"]) as client:
        used = client.get("/usage").json()["credits_used"]
        for why, (body, headers, status, code) in cases.items():
            reply = client.post("/jobs", content=body, headers=headers)
            assert reply.status_code == status, (why, reply.text)
            assert_problem(reply, status, code)
        assert client.get("/usage").json()["credits_used"] == used
    assert list((sec_daemon.data_dir / "uploads").iterdir()) == []
    assert httpx.get(sec_daemon.url + "/healthz").status_code == 200
    faults.tried("hostile multipart bodies (parts, sizes, boundary, headers)", len(cases))


def test_failed_auth_is_limited_per_client_address(
    sec_daemon: Daemon, users: dict[str, str], faults: FaultLog
) -> None:
    def client(address: str, key: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(
            base_url=sec_daemon.url,
            transport=transport,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    ann = users["ann@x.org"]
    with client("127.0.0.3", "fdb_" + "z" * 40) as attacker:
        codes = [attacker.get("/usage").status_code for _ in range(AUTH_FAILURES + 3)]
    assert codes == [401] * AUTH_FAILURES + [429] * 3
    with client("127.0.0.3", ann) as same_address:
        blocked = same_address.get("/usage")
        assert_problem(blocked, 429, "rate_limited")
        assert 1 <= int(blocked.headers["Retry-After"]) <= WINDOW_S
    with client("127.0.0.4", ann) as elsewhere:
        assert elsewhere.get("/usage").status_code == 200
    with sec_daemon.socket_client(ann) as local:
        assert local.get("/usage").status_code == 200
    time.sleep(WINDOW_S + 0.3)
    with client("127.0.0.3", ann) as later:
        assert later.get("/usage").status_code == 200
    faults.tried("failed-auth flood from one address", AUTH_FAILURES + 3)


def test_api_key_in_query_is_refused(
    sec_daemon: Daemon, users: dict[str, str], faults: FaultLog
) -> None:
    with sec_daemon.client() as client:
        for path in ("/usage", "/jobs", "/api-keys"):
            reply = client.get(path, params={"token": users["ann@x.org"]})
            assert_problem(reply, 401, "unauthorized")
            assert users["ann@x.org"] not in reply.text
    faults.tried("API key sent as ?token=", 3)


def _modes(root: Path) -> list[tuple[str, int]]:
    """(path, mode) of every file and folder that other users could read or enter."""
    loose = []
    for path in [root, *root.rglob("*")]:
        if path.name == "facedubd.toml":  # written by the test harness, not the daemon
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            loose.append((str(path.relative_to(root)), oct(mode)))
    return loose


def test_keys_never_in_logs_bodies_or_database(
    sec_daemon: Daemon, users: dict[str, str], faults: FaultLog
) -> None:
    """Runs after the module's other tests (file order), so the log holds their traffic."""
    revoked = ""
    with sec_daemon.client(users["ann@x.org"]) as client:
        made = client.post("/api-keys", json={"name": "shown once"})
        revoked = made.json()["key"]
        bodies = [client.delete(f"/api-keys/{made.json()['id']}").text]
    with sec_daemon.client(revoked) as client:
        bodies += [client.get("/usage").text, client.get("/jobs").text]
    secrets = [*users.values(), revoked]
    log = sec_daemon.log_path.read_bytes()
    database = b"".join(
        p.read_bytes() for p in sec_daemon.data_dir.iterdir() if p.name.startswith("facedubd.db")
    )
    for key in secrets:
        assert key.encode() not in log
        assert key[4:].encode() not in database
        assert all(key not in body for body in bodies)
    assert b"Traceback" not in log
    faults.tried("API keys looked for in the log, error bodies and database", len(secrets))


def test_socket_and_data_files_are_private(
    tmp_path: Path, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    """A daemon with the default socket place: run/ is 0700, the socket 0600, ours."""
    daemon = make_daemon(tmp_path, {"workers": 0})
    daemon.socket_path = daemon.data_dir / "run" / "facedubd.sock"
    with (tmp_path / "daemon.log").open("ab") as log:
        import subprocess

        daemon.proc = subprocess.Popen(
            [FACEDUBD, "serve", "--port", str(daemon.port)], env=daemon.env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while not daemon.socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        daemon.wait_models()
        info = daemon.socket_path.stat()
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == os.getuid()
        assert stat.S_IMODE(daemon.socket_path.parent.stat().st_mode) == 0o700
        _, key = daemon.create_user("modes@x.org")
        media = {n: sample(n).read_bytes() for n in ("grace_hopper.jpg", "single_face.mp4")}
        with daemon.client(key) as client:
            assert client.post("/jobs", **form(media)).status_code == 200
        assert _modes(daemon.data_dir) == []
    finally:
        daemon.stop()
    assert _modes(daemon.data_dir) == []
    faults.tried("file and socket modes checked after a submission", 1)
