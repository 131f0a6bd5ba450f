"""`FaceDubClient`: a small Python SDK for the FaceDub API, hosted or a local facedubd.

    from facedub_cli import FaceDubClient

    with FaceDubClient(socket="/path/to/facedubd.sock") as client:   # or api_url=..., api_key=...
        created = client.create_job("photo.jpg", "video.mp4", duration=5)
        job = client.wait_for_job(created["job_id"])
        client.download(job["output_url"], "out.mp4")

Every call raises `FaceDubError(code, message, status)` on failure. A `rate_limited` 429
and a `models_loading` 503 are retried after their `Retry-After`, a few times (each retry
is announced through `on_retry`); a `concurrency_limit` 429 is never retried. Signed
download URLs go through the same transport, so they work over the Unix socket too.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from socket import gaierror
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from facedub_cli.errors import ConnectionFailed, FaceDubError
from facedub_cli.multipart import FilePart, MultipartBody, ProgressCallback
from facedub_cli.sse import parse_events

DEFAULT_API_URL = "https://api.facedub.io"
SOCKET_BASE_URL = "http://localhost"
TERMINAL_STATUSES = frozenset({"completed", "failed"})
RETRIED_CODES = frozenset({"rate_limited", "models_loading"})
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

JobCallback = Callable[[dict[str, Any], str], None]
"""Called with (job object, its raw JSON text) on every change seen by `wait_for_job`."""


def retry_after_seconds(value: str | None, default: float = 1.0, now: float | None = None) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def error_from_response(response: httpx.Response) -> FaceDubError:
    """Map an error response (RFC 9457 problem+json with `code`, or anything else)."""
    code, message = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or "")
        message = str(body.get("detail") or body.get("title") or body.get("error") or "")
    if not code:
        code = {401: "unauthorized", 404: "not_found", 429: "rate_limited"}.get(
            response.status_code, "internal" if response.status_code >= 500 else "invalid_request"
        )
    return FaceDubError(
        code, message or response.reason_phrase or "request failed", response.status_code
    )


def with_wait(error: FaceDubError, header: str | None, wait: float) -> FaceDubError:
    """The error, saying how long to wait before trying again (when the server said)."""
    if not header:
        return error
    seconds = max(1, math.ceil(wait))
    unit = "second" if seconds == 1 else "seconds"
    return FaceDubError(
        error.code, f"{error.message} (try again in {seconds} {unit})", error.status
    )


def bearer(api_key: str) -> str:
    """The Authorization value for a key as people paste it (spaces and a line break
    around it dropped); a key no header can carry is refused without echoing it."""
    key = api_key.strip()
    if not (key.isascii() and key.isprintable()):
        raise FaceDubError(
            "unauthorized",
            "The API key holds a character no key has (a control character or a non-ASCII "
            "letter): copy it again.",
        )
    return f"Bearer {key}"


class FaceDubClient:
    """A client for one FaceDub API: `api_url` over TCP, or `socket` (a facedubd Unix socket).

    `api_key` is sent as a Bearer token when given (over the local socket none is needed).
    `on_retry(note)` hears about each rate-limit or models-loading retry. `transport` and
    `external_transport` (for signed URLs on other hosts, e.g. a CDN) replace httpx's own.
    """

    def __init__(
        self,
        api_url: str | None = None,
        *,
        socket: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        on_retry: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        external_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.socket = Path(socket) if socket is not None else None
        self.api_url = (SOCKET_BASE_URL if self.socket else api_url or DEFAULT_API_URL).rstrip("/")
        self.api_key = api_key
        self.max_retries = max_retries
        self.on_retry = on_retry
        self._sleep = sleep
        self._external_transport = external_transport
        if transport is None and self.socket is not None:
            transport = httpx.HTTPTransport(uds=str(self.socket))
        headers = {"User-Agent": "facedub-cli/0.1"}
        if api_key:
            headers["Authorization"] = bearer(api_key)
        self._http = httpx.Client(
            base_url=self.api_url,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=10.0),
        )
        self.last_body = ""
        """The raw text of the last API response body (what `facedub --json` prints)."""

    @property
    def target(self) -> str:
        """What this client talks to, for messages: the socket path or the URL."""
        return f"socket {self.socket}" if self.socket else self.api_url

    def _not_a_socket(self) -> str | None:
        """Why the socket path cannot be one, when something else is there: connecting to
        a folder or a file said "connection refused (is the server running?)"."""
        if self.socket is None or not self.socket.exists() or self.socket.is_socket():
            return None
        what = "a folder" if self.socket.is_dir() else "a file"
        return f"that is {what}, not a socket (check --socket, FACEDUB_SOCKET or the profile)"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FaceDubClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------

    def _send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        try:
            return self._http.send(request, stream=stream)
        except httpx.ConnectError as exc:
            raise ConnectionFailed(self.target, self._not_a_socket() or _reason(exc)) from exc
        except httpx.TimeoutException as exc:
            raise FaceDubError("timeout", f"{self.target} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise FaceDubError("connection_failed", f"{self.target}: {_reason(exc)}") from exc

    def _request(
        self,
        method: str,
        path: str,
        *,
        build: Callable[[], httpx.Request] | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries of rate_limited / models_loading; raise FaceDubError on errors."""
        attempt = 0
        while True:
            request = build() if build else self._http.build_request(method, path, **kwargs)
            response = self._send(request, stream=stream)
            if response.status_code < 400:
                if not stream:
                    self.last_body = response.text
                return response
            response.read()
            error = error_from_response(response)
            if error.code not in RETRIED_CODES:
                raise error
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt >= self.max_retries:
                raise with_wait(error, response.headers.get("Retry-After"), wait)
            attempt += 1
            if self.on_retry is not None:
                self.on_retry(
                    f"{error.code}: retrying in {wait:g}s (attempt {attempt} of {self.max_retries})"
                )
            self._sleep(wait)

    @staticmethod
    def _segment(value: str) -> str:
        """An id as one URL path segment: every reserved character escaped (`/`, `?`,
        `%`, ...), and a bare `.` or `..`, which a URL resolves as a step, spelled with
        escapes, so no id can reach another endpoint. An empty id is refused."""
        if not value:
            raise ValueError("an id cannot be empty")
        quoted = quote(value, safe="")
        return quoted.replace(".", "%2E") if set(value) <= {"."} else quoted

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else None

    # -- jobs ---------------------------------------------------------------------------

    def create_job(
        self,
        photo: str | os.PathLike[str],
        video: str | os.PathLike[str],
        duration: int | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """POST /jobs: stream both files; returns `{job_id, status, credits_charged, is_overage}`.

        An Idempotency-Key (random unless given) makes a retried upload safe.
        """
        fields = {} if duration is None else {"duration": str(duration)}
        body = MultipartBody(
            fields,
            [FilePart("character_photo", Path(photo)), FilePart("reference_video", Path(video))],
        )
        headers = {
            "Content-Type": body.content_type,
            "Content-Length": str(len(body)),
            "Idempotency-Key": idempotency_key or uuid.uuid4().hex,
        }

        def build() -> httpx.Request:
            return self._http.build_request(
                "POST", "/jobs", content=body.chunks(on_progress), headers=headers
            )

        result: dict[str, Any] = self._request("POST", "/jobs", build=build).json()
        return result

    def list_jobs(
        self, limit: int | None = None, before: str | None = None
    ) -> list[dict[str, Any]]:
        """GET /jobs: newest first, at most 50."""
        params: dict[str, Any] = {}
        if limit is not None:
            params["limit"] = limit
        if before is not None:
            params["before"] = before
        jobs: list[dict[str, Any]] = self._json("GET", "/jobs", params=params)
        return jobs

    def get_job(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}."""
        job: dict[str, Any] = self._json("GET", f"/jobs/{self._segment(job_id)}")
        return job

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """POST /jobs/{id}/cancel: the job object, now failed with error_code `cancelled`."""
        job: dict[str, Any] = self._json("POST", f"/jobs/{self._segment(job_id)}/cancel")
        return job

    def delete_job(self, job_id: str) -> None:
        """DELETE /jobs/{id}: cancels a running job first; its files are removed."""
        self._request("DELETE", f"/jobs/{self._segment(job_id)}")

    def create_stream_token(self, job_id: str | None = None) -> dict[str, Any]:
        """POST /auth/token: `{token, expires_in}` for the SSE stream (one job, or all)."""
        kwargs: dict[str, Any] = {"json": {"job_id": job_id}} if job_id else {}
        token: dict[str, Any] = self._json("POST", "/auth/token", **kwargs)
        return token

    def stream_job(self, job_id: str, token: str) -> Iterator[tuple[dict[str, Any], str]]:
        """GET /jobs/{id}/stream: yield (job object, raw JSON) per event until the stream ends."""
        response = self._request(
            "GET", f"/jobs/{self._segment(job_id)}/stream", params={"token": token}, stream=True
        )
        try:
            for event in parse_events(response.iter_lines()):
                if event.event == "job":
                    yield json.loads(event.data), event.data
        except httpx.TransportError as exc:
            raise FaceDubError("connection_failed", f"{self.target}: {_reason(exc)}") from exc
        finally:
            response.close()

    def wait_for_job(
        self,
        job_id: str,
        on_update: JobCallback | None = None,
        *,
        poll_interval: float = 3.0,
    ) -> dict[str, Any]:
        """Follow a job until it completes or fails; return the final job object.

        Uses the SSE stream when a token can be had (POST /auth/token), else polls
        GET /jobs/{id} every `poll_interval` seconds (well inside 60 requests a minute).
        """
        try:
            token = str(self.create_stream_token(job_id)["token"])
        except (FaceDubError, KeyError, TypeError):
            token = ""
        if token:
            with contextlib.suppress(FaceDubError):
                job = self._follow_stream(job_id, token, on_update)
                if job is not None:
                    return job
        return self._poll(job_id, on_update, poll_interval)

    def _follow_stream(
        self, job_id: str, token: str, on_update: JobCallback | None
    ) -> dict[str, Any] | None:
        for job, raw in self.stream_job(job_id, token):
            self.last_body = raw
            if on_update is not None:
                on_update(job, raw)
            if job.get("status") in TERMINAL_STATUSES:
                return job
        return None

    def _poll(self, job_id: str, on_update: JobCallback | None, interval: float) -> dict[str, Any]:
        seen = ""
        while True:
            job = self.get_job(job_id)
            if self.last_body != seen:
                seen = self.last_body
                if on_update is not None:
                    on_update(job, seen)
            if job.get("status") in TERMINAL_STATUSES:
                return job
            self._sleep(interval)

    # -- account ------------------------------------------------------------------------

    def usage(self) -> dict[str, Any]:
        """GET /usage: plan, credits_used, credits_limit, bonus_credits, credits_remaining."""
        usage: dict[str, Any] = self._json("GET", "/usage")
        return usage

    def create_key(self, name: str) -> dict[str, Any]:
        """POST /api-keys: the new key, shown this once."""
        key: dict[str, Any] = self._json("POST", "/api-keys", json={"name": name})
        return key

    def list_keys(self) -> list[dict[str, Any]]:
        """GET /api-keys: active keys (prefix only)."""
        keys: list[dict[str, Any]] = self._json("GET", "/api-keys")
        return keys

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        """DELETE /api-keys/{id}."""
        key: dict[str, Any] = self._json("DELETE", f"/api-keys/{self._segment(key_id)}")
        return key

    # -- downloads ----------------------------------------------------------------------

    def _routes_through_api(self, url: str) -> bool:
        parts, base = urlsplit(url), urlsplit(self.api_url)
        if not parts.scheme:
            return True
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
            return True
        return self.socket is not None and (parts.hostname or "") in _LOCAL_HOSTS

    def download(
        self,
        url: str,
        dest: str | os.PathLike[str],
        on_progress: ProgressCallback | None = None,
    ) -> Path:
        """Fetch a signed URL into `dest` (0600, written whole or not at all; folders it
        makes for it are 0700)."""
        target = Path(dest)
        if self._routes_through_api(url):
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            request = self._http.build_request("GET", path)
            request.headers.pop("Authorization", None)
            response = self._send(request, stream=True)
            return self._save(response, target, on_progress)
        timeout = httpx.Timeout(60.0, connect=10.0)
        with httpx.Client(timeout=timeout, transport=self._external_transport) as plain:
            try:
                response = plain.send(plain.build_request("GET", url), stream=True)
            except httpx.TransportError as exc:
                raise ConnectionFailed(url, _reason(exc)) from exc
            return self._save(response, target, on_progress)

    def _save(
        self, response: httpx.Response, target: Path, on_progress: ProgressCallback | None
    ) -> Path:
        try:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response)
            total = int(response.headers.get("Content-Length") or 0)
            make_private_dirs(target.parent)
            partial = target.with_name(target.name + ".part")
            try:
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError as exc:
                raise _naming(exc, target) from None
            received = 0
            try:
                with os.fdopen(fd, "wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                        received += len(chunk)
                        if on_progress is not None:
                            on_progress(received, total or received)
                partial.replace(target)
            except httpx.TransportError as exc:
                partial.unlink(missing_ok=True)  # never leave half a video behind
                raise FaceDubError(
                    "connection_failed", f"download broke off: {_reason(exc)}"
                ) from exc
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise _naming(exc, target) from None
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            return target
        finally:
            response.close()


def make_private_dirs(folder: str | os.PathLike[str]) -> None:
    """Make `folder` and any missing parents 0700 (they hold faces: personal data);
    folders that already exist are left as they are."""
    path = Path(folder)
    missing = []
    while not os.path.lexists(path) and path.parent != path:
        missing.append(path)
        path = path.parent
    for made in reversed(missing):
        made.mkdir(mode=0o700)
        os.chmod(made, 0o700)  # whatever the umask


def _naming(error: OSError, target: Path) -> OSError:
    """The same error about `target`, the path the caller gave, not our `.part` file."""
    return type(error)(error.errno, error.strerror or str(error), str(target))


def _reason(exc: Exception) -> str:
    """The innermost cause's words, without a traceback."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    if isinstance(cause, FileNotFoundError):
        return "no such socket (is `facedubd serve` running?)"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(cause, gaierror):
        # "[Errno -2] Name or service not known", "[Errno -3] Temporary failure in ..."
        return "the host name could not be looked up (check the URL and the network)"
    return str(cause) or str(exc) or type(exc).__name__
