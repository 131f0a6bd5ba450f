"""Bind the Unix socket and the TCP port, run the API and the worker, drain on a signal.

Shutdown, in order: the first SIGTERM/SIGINT (or SIGHUP) stops accepting connections and lets open
requests end (a few seconds); running jobs get `shutdown_grace_s` to finish; the rest
are requeued; the socket file is removed; exit 0. A second signal stops at once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import shutil
import signal
import socket
import stat
import struct
import sys
import threading
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from facedubd.api.app import create_app
from facedubd.api.auth import PEER_UID_KEY
from facedubd.api.fastpath import JobReadFront
from facedubd.api.security import load_secrets
from facedubd.api.state import AppState, JobBus, Limits, Models
from facedubd.errors import DaemonAlreadyRunning, FacedubError, InvalidRequest, ModelError
from facedubd.paths import DB_NAME, default_socket, ensure_private_dir
from facedubd.settings import DaemonSettings
from facedubd.store import Store, User, open_store
from facedubd.worker import Worker

log = logging.getLogger("facedubd")
OWNER_EMAIL = "owner@localhost"
HTTP_DRAIN_S = 5

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    data_dir: Path
    settings: DaemonSettings
    host: str = "127.0.0.1"
    port: int = 8765
    socket_path: Path | None = None
    public_url: str | None = None


def peer_uid(sock: Any) -> int | None:
    """The OS user on the other end of a Unix socket (Linux SO_PEERCRED), else None."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None or sock is None or sock.family != socket.AF_UNIX:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def _attach_peer(protocol: Any, transport: asyncio.Transport) -> None:
    """Wrap the protocol's app so each request's scope names the socket peer's uid."""
    uid = peer_uid(transport.get_extra_info("socket"))
    if uid is None:
        return
    inner: ASGIApp = protocol.app

    async def with_peer(scope: Scope, receive: Any, send: Any) -> None:
        scope[PEER_UID_KEY] = uid
        await inner(scope, receive, send)

    protocol.app = with_peer


class PeerAwareHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol that tells the app who is on a Unix socket's other end."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _attach_peer(self, transport)


class QuietWhenStoppedNow(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" for a request cancelled by a stop
    at once (the second signal: an open `jobs watch` stream, say), a CancelledError
    traceback that read as if the daemon had failed; every other record passes."""

    def __init__(self, stopping_now: Callable[[], bool]) -> None:
        super().__init__()
        self._stopping_now = stopping_now

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, asyncio.CancelledError) and self._stopping_now())


class DaemonServer(uvicorn.Server):
    """uvicorn's server without its own signal handling: ours covers the drain too."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _socket_in_use(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError as error:
        if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        raise
    finally:
        probe.close()
    return True


MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes on Linux, the last one a NUL


def bind_unix(path: Path, private_parent: bool) -> socket.socket:
    """Bind `path` as a 0600 socket; remove a stale one; refuse a live one."""
    if private_parent:
        ensure_private_dir(path.parent)
    elif not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise InvalidRequest(f"{path} exists and is not a socket; not touching it.")
        if _socket_in_use(path):
            raise DaemonAlreadyRunning(f"Another facedubd is already listening on {path}.")
        path.unlink()
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise InvalidRequest(
            f"The socket path {path} is too long for a Unix socket "
            f"(at most {MAX_SOCKET_PATH} bytes): choose a shorter one with --socket."
        )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError as error:
        sock.close()
        raise InvalidRequest(f"Cannot listen on {path}: {error.strerror or error}.") from None
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def bind_tcp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it a reply written as head + body waits out the peer's delayed ACK (~40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise InvalidRequest(f"Cannot listen on {host}:{port}: {error.strerror}.") from None
    except OverflowError:  # a port past 65535 is not an OSError
        sock.close()
        raise InvalidRequest(f"Cannot listen on {host}:{port}: the port must be 0-65535.") from None
    sock.listen(1024)
    return sock


async def ensure_owner(store: Store, settings: DaemonSettings) -> User:
    owner = await store.local_owner()
    if owner is None:
        owner = await store.create_user(
            OWNER_EMAIL, "agency", settings.default_credits_limit, local_owner=True
        )
    return owner


def prepare_models(models: Models, device: str) -> None:
    """Fetch, convert and load the face models (background thread at start-up)."""
    try:
        from facedubd.models import ensure_models
        from facedubd.pipeline.face import load_face_models

        ensure_models()
        models.set(load_face_models(device, 1))
        log.info("face models ready")
    except Exception as error:
        # for good: /healthz says "failed", POST /jobs 503 models_unavailable (not retried)
        code = error.code if isinstance(error, FacedubError) else ModelError.code
        models.fail(code)
        detail = error.message if isinstance(error, FacedubError) else f"{error}"
        log.error(
            "face models could not be prepared (%s): %s; no job can run until facedubd is "
            "restarted with this fixed",
            code,
            detail,
        )


def _install_signals(server: DaemonServer, loop: asyncio.AbstractEventLoop) -> None:
    def on_signal() -> None:
        if server.should_exit:
            server.force_exit = True
            log.warning("second signal: stopping now")
        else:
            server.should_exit = True
            log.info("stopping: draining requests and jobs")

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    # The terminal a `facedubd serve &` runs from closing: drain too, not die on the spot
    # with the socket left behind; under `nohup` it stays ignored.
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        loop.add_signal_handler(signal.SIGHUP, on_signal)


async def run_daemon(
    options: ServeOptions, unix_sock: socket.socket, tcp_sock: socket.socket, sock_path: Path
) -> None:
    sockets = [unix_sock, tcp_sock]
    settings = options.settings
    store = await open_store(options.data_dir / DB_NAME)
    await ensure_owner(store, settings)
    bus = JobBus()
    state = AppState(
        store=store,
        settings=settings,
        secrets=load_secrets(options.data_dir),
        data_dir=options.data_dir,
        limits=Limits.from_settings(settings),
        models=Models(),
        bus=bus,
        public_url=options.public_url,
        tcp_url=tcp_base_url(tcp_sock),
        owner_uid=os.getuid(),
    )
    ensure_private_dir(state.jobs_dir())
    uploads = ensure_private_dir(state.uploads_dir())
    for stale in uploads.iterdir():
        _remove_tree(stale)
    worker = Worker(store, settings, state.jobs_dir(), bus.notify)
    state.runner = worker
    await worker.recover()
    worker.start()
    threading.Thread(
        target=prepare_models, args=(state.models, settings.device), daemon=True
    ).start()
    config = uvicorn.Config(
        JobReadFront(create_app(state)),
        http=PeerAwareHttpTools,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=HTTP_DRAIN_S,
        server_header=False,
    )
    server = DaemonServer(config)
    _install_signals(server, asyncio.get_running_loop())
    quiet = QuietWhenStoppedNow(lambda: server.force_exit)
    logging.getLogger("uvicorn.error").addFilter(quiet)
    log.info("facedubd listening on http://%s:%d and unix:%s", *_tcp_name(sockets[1]), sock_path)
    if settings.workers == 0:
        log.warning(
            "workers = 0: jobs are accepted, charged and queued, but none runs until facedubd "
            "is restarted with workers >= 1 (a cancel refunds a queued job)"
        )
    try:
        await server.serve(sockets=sockets)
    finally:
        await worker.drain(settings.shutdown_grace_s, lambda: server.force_exit)
        await store.close()


def _tcp_name(sock: socket.socket) -> tuple[str, int]:
    name = sock.getsockname()
    return str(name[0]), int(name[1])


def _remove_tree(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def tcp_base_url(tcp_sock: socket.socket) -> str:
    """The URL of the bound TCP port, for links handed out over the Unix socket (whose
    requests name no reachable host): a wildcard address becomes the loopback one."""
    host, port = tcp_sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def serve(options: ServeOptions) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.umask(0o077)  # the database, its WAL and every job file: 0600, whoever creates them
    ensure_private_dir(options.data_dir)
    sock_path = options.socket_path or default_socket(options.data_dir)
    unix_sock = bind_unix(sock_path, private_parent=options.socket_path is None)
    try:
        tcp_sock = bind_tcp(options.host, options.port)
    except BaseException:
        unix_sock.close()
        sock_path.unlink(missing_ok=True)
        raise
    bound = os.stat(sock_path).st_ino
    try:
        asyncio.run(run_daemon(options, unix_sock, tcp_sock, sock_path))
    finally:
        with contextlib.suppress(OSError):
            if os.stat(sock_path).st_ino == bound:
                sock_path.unlink()
    print("facedubd stopped", file=sys.stderr)
    if threading.active_count() > 1:
        # Stopped within moments of starting, the face models are still loading on their
        # thread (or a forced stop left a job's thread behind): a normal exit would run
        # onnxruntime's C++ teardown under it, which aborts ("terminate called without an
        # active exception", exit -6). The socket, the store and the jobs are already
        # settled, so leave without the interpreter's teardown.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
