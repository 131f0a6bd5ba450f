"""Keys, stream tokens, signed URLs and sliding windows: the API's pure parts."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from facedubd.api.ratelimit import SlidingWindow
from facedubd.api.security import (
    check_file_signature,
    file_signature,
    hash_key,
    key_prefix,
    load_secrets,
    looks_like_key,
    make_stream_token,
    new_api_key,
    read_stream_token,
)
from facedubd.errors import LinkExpired, LinkInvalid, RateLimited, Unauthorized


def test_keys_look_right_and_hash_with_the_secret() -> None:
    key = new_api_key()
    assert key.startswith("fdb_") and len(key) >= 36 and looks_like_key(key)
    assert key_prefix(key) == key[:12]
    assert new_api_key() != key
    assert hash_key(b"a", key) != hash_key(b"b", key)
    assert not looks_like_key("fdb_short") and not looks_like_key("xyz_" + "a" * 40)
    assert not looks_like_key("fdb_" + "a" * 39 + "!")


def test_secrets_are_private_and_stable(tmp_path: Path) -> None:
    first = load_secrets(tmp_path)
    assert load_secrets(tmp_path) == first
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "secrets" / "url_signing").stat().st_mode & 0o777 == 0o600


def test_stream_tokens() -> None:
    now = int(time.time())
    token = make_stream_token(b"s" * 32, "usr_1", None, now, 60)
    assert read_stream_token(b"s" * 32, token, "aaaaaaaaaaaa") == "usr_1"
    scoped = make_stream_token(b"s" * 32, "usr_1", "aaaaaaaaaaaa", now, 60)
    assert read_stream_token(b"s" * 32, scoped, "aaaaaaaaaaaa") == "usr_1"
    bad = [
        (scoped, b"s" * 32, "bbbbbbbbbbbb"),
        (token, b"t" * 32, "aaaaaaaaaaaa"),
        (make_stream_token(b"s" * 32, "usr_1", None, now - 120, 60), b"s" * 32, "a"),
        (jwt.encode({"sub": "usr_1", "typ": "stream", "exp": now + 60}, None, "none"), b"", "a"),
        (
            jwt.encode({"sub": "u", "typ": "other", "exp": now + 60}, b"s" * 32, "HS256"),
            b"s" * 32,
            "a",
        ),
        ("fdb_" + "a" * 40, b"s" * 32, "a"),
    ]
    for value, secret, job in bad:
        with pytest.raises(Unauthorized):
            read_stream_token(secret, value, job)


def test_file_signatures() -> None:
    now = 1_000
    sig = file_signature(b"k", "abc", "output.mp4", now + 10)
    check_file_signature(b"k", "abc", "output.mp4", str(now + 10), sig, now)
    with pytest.raises(LinkExpired):
        check_file_signature(b"k", "abc", "output.mp4", str(now + 10), sig, now + 11)
    for job, name, expires, signature in [
        ("abd", "output.mp4", str(now + 10), sig),
        ("abc", "preview.jpg", str(now + 10), sig),
        ("abc", "output.mp4", str(now + 11), sig),
        ("abc", "output.mp4", "soon", sig),
        ("abc", "output.mp4", str(now + 10), ("B" if sig[0] != "B" else "C") + sig[1:]),
    ]:
        with pytest.raises(LinkInvalid):
            check_file_signature(b"k", job, name, expires, signature, now)


def test_sliding_window() -> None:
    window = SlidingWindow("b", 2, 10)
    assert window.hit("u", 0).remaining == 1
    assert window.hit("u", 1).remaining == 0
    with pytest.raises(RateLimited) as limited:
        window.hit("u", 5)
    assert limited.value.retry_after == 5
    assert limited.value.headers["RateLimit-Policy"] == '"b";q=2;w=10'
    assert window.hit("other", 5).remaining == 1
    assert window.hit("u", 10.5).remaining == 0  # the hit at 0 slid out; the one at 1 stays
    assert window.blocked("u", 10.6) == 1
    window.record("v", 0)
    assert window.blocked("v", 0) == 0
