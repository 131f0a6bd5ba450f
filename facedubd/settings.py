"""Daemon settings from one place. Precedence: flag > FACEDUBD_<KEY> env > config file > default."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from facedubd.errors import InvalidRequest
from facedubd.paths import CONFIG_NAME


@dataclasses.dataclass(frozen=True)
class DaemonSettings:
    rate_window_s: float = 60
    rate_post_jobs: int = 10
    rate_get_jobs: int = 60
    rate_other: int = 120
    auth_failures_per_window: int = 300
    stream_token_ttl_s: int = 900
    output_url_ttl_s: int = 86400
    shutdown_grace_s: float = 60
    max_active_jobs: int = 2
    max_active_keys: int = 5
    seconds_per_credit: int = 5
    default_credits_limit: int = 150
    max_photo_mb: float = 20
    max_video_mb: float = 500
    sse_keepalive_s: float = 15
    output_retention_days: float = 7
    workers: int = 1
    device: str = "auto"
    models_wait_s: float = 30


def _coerce(name: str, raw: Any, kind: type) -> Any:
    try:
        if kind is str:
            return str(raw)
        if kind is int:
            return int(raw)
        return float(raw)
    except (TypeError, ValueError):
        raise InvalidRequest(f"setting {name} must be a {kind.__name__}, got {raw!r}") from None


def load_settings(
    data_dir: Path,
    config_file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> DaemonSettings:
    """Merge default < config file < environment < flags into one frozen object."""
    env = os.environ if environ is None else environ
    path = config_file or (data_dir / CONFIG_NAME)
    from_file: dict[str, Any] = {}
    if path.is_file():
        with path.open("rb") as fh:
            from_file = tomllib.load(fh)
    elif config_file is not None:
        raise InvalidRequest(f"config file {config_file} does not exist")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(DaemonSettings):
        kind = type(field.default)
        for source in (
            (flags or {}).get(field.name),
            env.get(f"FACEDUBD_{field.name.upper()}"),
            from_file.get(field.name),
        ):
            if source is not None:
                values[field.name] = _coerce(field.name, source, kind)
                break
    unknown = set(from_file) - {f.name for f in dataclasses.fields(DaemonSettings)}
    if unknown:
        raise InvalidRequest(f"unknown setting(s) in {path}: {', '.join(sorted(unknown))}")
    return DaemonSettings(**values)
