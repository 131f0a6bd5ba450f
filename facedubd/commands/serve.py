"""`facedubd serve`: the REST API on a TCP port and a Unix socket, with the worker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from facedubd.commands.output import fail
from facedubd.commands.run import Device
from facedubd.errors import FacedubError, InvalidRequest
from facedubd.paths import data_dir
from facedubd.settings import load_settings

MAX_PORT = 65535


def serve(
    host: Annotated[str, typer.Option(help="TCP address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8765,
    socket: Annotated[
        Path | None,
        typer.Option("--socket", help="Unix socket path (default: <data dir>/run/facedubd.sock)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Jobs run at once (setting `workers`, default 1).")
    ] = None,
    device: Annotated[
        Device | None,
        typer.Option(
            help="Where the models run (setting `device`, default auto; cuda: error if missing)."
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url", help="Base of signed file URLs (default: the request's host)."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Settings file (default: <data dir>/facedubd.toml).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data-dir", help="Data dir (env: FACEDUBD_DATA_DIR).")
    ] = None,
) -> None:
    """Serve the FaceDub REST API and run jobs until SIGTERM/SIGINT/SIGHUP (then drain).

    Exit codes: 0 stopped by SIGTERM/SIGINT/SIGHUP after the drain, 1 failed (another facedubd
    on the socket, --device cuda without CUDA), 2 usage or configuration error (a flag, a
    FACEDUBD_* variable or the config file; a port or socket that cannot be used); an
    error prints one line `error: <code>: <sentence>` on stderr."""
    from facedubd.server import ServeOptions
    from facedubd.server import serve as run_server

    flags: dict[str, Any] = {"workers": workers, "device": device and device.value}
    folder = data_dir(data)
    try:
        if public_url is not None and not _is_http_url(public_url):
            raise InvalidRequest(
                f"--public-url must be an http:// or https:// URL, not {public_url!r}."
            )
        if not 0 <= port <= MAX_PORT:
            raise InvalidRequest(f"--port must be 0-{MAX_PORT} (0: any free port), not {port}.")
        settings = load_settings(folder, config, flags)
        check_device_available(settings.device)
        options = ServeOptions(
            data_dir=folder,
            settings=settings,
            host=host,
            port=port,
            socket_path=socket,
            public_url=public_url,
        )
        raise typer.Exit(run_server(options))
    except FacedubError as error:
        fail(error)


def check_device_available(device: str) -> None:
    """Refuse, before anything is bound, a device whose execution provider this
    onnxruntime lacks: the same check and sentence as `facedubd run --device cuda`
    (DeviceUnavailable), never a daemon that serves but can prepare no model."""
    if device != "cuda":
        return  # cpu always runs; auto takes CUDA only when it is there
    from facedubd.models.sessions import available_providers, provider_chain

    provider_chain(device, available_providers())


def _is_http_url(url: str) -> bool:
    """Whether `url` can start a link: http or https, with a host."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
