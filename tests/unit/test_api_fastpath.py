"""The GET /jobs/{id} front: which requests it takes, and the TCP socket's NODELAY."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from facedubd.api.fastpath import JobReadFront, job_read_id
from facedubd.server import bind_tcp


def _scope(method: str, path: str, kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "method": method, "path": path, "headers": []}


@pytest.mark.parametrize(
    ("method", "path", "kind", "expected"),
    [
        ("GET", "/jobs/0123456789ab", "http", "0123456789ab"),
        ("GET", "/jobs/XYZ", "http", "XYZ"),  # the route answers 404 for it, as before
        ("GET", "/jobs", "http", None),
        ("GET", "/jobs/", "http", None),
        ("GET", "/jobs/0123456789ab/", "http", None),
        ("GET", "/jobs/0123456789ab/stream", "http", None),
        ("HEAD", "/jobs/0123456789ab", "http", None),
        ("POST", "/jobs/0123456789ab", "http", None),
        ("DELETE", "/jobs/0123456789ab", "http", None),
        ("GET", "/jobsx/0123456789ab", "http", None),
        ("GET", "/usage", "http", None),
    ],
)
def test_job_read_id_takes_only_get_of_one_job(
    method: str, path: str, kind: str, expected: str | None
) -> None:
    assert job_read_id(_scope(method, path, kind)) == expected


def test_job_read_id_leaves_lifespan_alone() -> None:
    assert job_read_id({"type": "lifespan"}) is None


def test_front_passes_other_requests_to_the_app_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def nothing() -> dict[str, Any]:
        return {}

    async def drop(_: Any) -> None:
        return None

    front = JobReadFront(app)
    for method, path in (("GET", "/jobs"), ("POST", "/jobs/0123456789ab/cancel")):
        scope = _scope(method, path)
        asyncio.run(front(scope, nothing, drop))
        assert seen[-1] is scope
        assert "app" not in scope
    assert len(seen) == 2


def test_tcp_socket_and_its_connections_have_nodelay() -> None:
    """Without NODELAY a reply written as head + body waits for the peer's delayed ACK."""
    server = bind_tcp("127.0.0.1", 0)
    try:
        assert server.proto == socket.IPPROTO_TCP
        assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        client = socket.create_connection(server.getsockname()[:2], timeout=5)
        accepted, _ = server.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.close()
