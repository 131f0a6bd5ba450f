"""Daemon settings from one place. Precedence: flag > FACEDUBD_<KEY> env > config file > default."""

from __future__ import annotations

import dataclasses
import math
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


_KINDS: dict[str, type] = {"int": int, "float": float, "str": str}
_KIND_WORDS = {int: "a whole number", float: "a number", str: "text"}
DEVICES = ("auto", "cpu", "cuda")
# settings divided by: 0 would fail on the first request, so refuse it at start-up
_MORE_THAN_ZERO = frozenset({"rate_window_s", "seconds_per_credit"})


def _coerce(name: str, raw: Any, kind: type) -> Any:
    words = _KIND_WORDS[kind]
    # From the config file: int() would cut `workers = 1.5` to 1 and take `true` as 1.
    cut = kind is int and isinstance(raw, float) and not raw.is_integer()
    if cut or (isinstance(raw, bool) and kind is not str):
        raise InvalidRequest(f"setting {name} must be {words}, got {raw!r}")
    try:
        if kind is str:
            return str(raw)
        if kind is int:
            return int(raw)
        return float(raw)
    except (TypeError, ValueError):
        raise InvalidRequest(f"setting {name} must be {words}, got {raw!r}") from None


def _check_range(name: str, value: Any) -> None:
    """Refuse a value no deployment means: a negative count or time, an unknown device,
    nan or inf (`FACEDUBD_MAX_VIDEO_MB=inf` made every POST /jobs a 500)."""
    if name == "device" and value not in DEVICES:
        raise InvalidRequest(f"setting device must be auto, cpu or cuda, got {value!r}")
    if isinstance(value, str):
        return
    if not math.isfinite(value):
        raise InvalidRequest(f"setting {name} must be a finite number, got {value!r}")
    if name in _MORE_THAN_ZERO and value <= 0:
        raise InvalidRequest(f"setting {name} must be more than 0, got {value!r}")
    if value < 0:
        raise InvalidRequest(f"setting {name} must be 0 or more, got {value!r}")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequest(f"config file {path} is not valid TOML: {exc}") from None


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
        from_file = _read_config(path)
    elif config_file is not None:
        raise InvalidRequest(f"config file {config_file} does not exist")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(DaemonSettings):
        kind = _KINDS[str(field.type)]  # the annotation: `float = 7` still takes 0.5
        for source in (
            (flags or {}).get(field.name),
            env.get(f"FACEDUBD_{field.name.upper()}"),
            from_file.get(field.name),
        ):
            if source is not None:
                values[field.name] = _coerce(field.name, source, kind)
                _check_range(field.name, values[field.name])
                break
    unknown = set(from_file) - {f.name for f in dataclasses.fields(DaemonSettings)}
    if unknown:
        raise InvalidRequest(f"unknown setting(s) in {path}: {', '.join(sorted(unknown))}")
    return DaemonSettings(**values)
