"""Secrets, API keys, stream tokens and signed file URLs: pure functions plus one loader."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import string
from pathlib import Path
from typing import Any

import jwt

from facedubd.errors import LinkExpired, LinkInvalid, Unauthorized
from facedubd.paths import ensure_private_dir, write_private_file

KEY_PREFIX = "fdb_"
KEY_RANDOM_CHARS = 40
PREFIX_CHARS = 12
_ALPHABET = string.ascii_letters + string.digits
_SECRET_NAMES = ("api_key_hmac", "stream_jwt", "url_signing")


@dataclasses.dataclass(frozen=True)
class Secrets:
    api_key_hmac: bytes
    stream_jwt: bytes
    url_signing: bytes


def load_secrets(data_dir: Path) -> Secrets:
    """Read the daemon's secrets from `<data>/secrets/`, creating any missing (0600)."""
    folder = ensure_private_dir(data_dir / "secrets")
    values: dict[str, bytes] = {}
    for name in _SECRET_NAMES:
        path = folder / name
        if not path.exists():
            write_private_file(path, secrets.token_bytes(32))
        values[name] = path.read_bytes()
    return Secrets(**values)


def new_api_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(KEY_RANDOM_CHARS))


def key_prefix(key: str) -> str:
    return key[:PREFIX_CHARS]


def looks_like_key(value: str) -> bool:
    body = value[len(KEY_PREFIX) :]
    return value.startswith(KEY_PREFIX) and len(body) >= 32 and body.isalnum()


def hash_key(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def make_stream_token(secret: bytes, user_id: str, job_id: str | None, now: int, ttl_s: int) -> str:
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl_s, "typ": "stream"}
    if job_id is not None:
        claims["job"] = job_id
    return jwt.encode(claims, secret, algorithm="HS256")


def read_stream_token(secret: bytes, token: str, job_id: str) -> str:
    """The user id a stream token grants for `job_id`; Unauthorized if it grants nothing."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "sub", "typ"]}
        )
    except jwt.PyJWTError:
        raise Unauthorized("The stream token is missing, invalid or expired.") from None
    if claims.get("typ") != "stream" or claims.get("job", job_id) != job_id:
        raise Unauthorized("The stream token does not grant this job.")
    return str(claims["sub"])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def file_signature(secret: bytes, job_id: str, name: str, expires: int) -> str:
    message = f"{job_id}/{name}/{expires}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest())


def sign_file_url(base: str, secret: bytes, job_id: str, name: str, expires: int) -> str:
    signature = file_signature(secret, job_id, name, expires)
    return f"{base.rstrip('/')}/files/{job_id}/{name}?expires={expires}&signature={signature}"


def check_file_signature(
    secret: bytes, job_id: str, name: str, expires: str, signature: str, now: int
) -> None:
    """Tampered: LinkInvalid (403). Authentic but past its time: LinkExpired (410)."""
    if not expires.isdigit():
        raise LinkInvalid()
    expected = file_signature(secret, job_id, name, int(expires))
    if not hmac.compare_digest(expected, signature):
        raise LinkInvalid()
    if int(expires) < now:
        raise LinkExpired()
