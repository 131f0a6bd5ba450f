"""The CLI's settings: profiles in `<user config dir>/facedub/config.toml`, and how a
command finds its server. Precedence: flag > FACEDUB_* env > config file > default."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

HOSTED_URL = "https://api.facedub.io"
DEFAULT_PROFILE = "local"
PROFILE_KEYS = ("api_url", "socket")


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir("facedub"))


def config_path() -> Path:
    return config_dir() / "config.toml"


def default_socket() -> Path:
    """The daemon's default socket, resolved as facedubd does (FACEDUBD_DATA_DIR honoured)."""
    data = os.environ.get("FACEDUBD_DATA_DIR") or platformdirs.user_data_dir("facedubd")
    return Path(data) / "run" / "facedubd.sock"


def builtin_profiles() -> dict[str, dict[str, str]]:
    return {"hosted": {"api_url": HOSTED_URL}, "local": {"socket": str(default_socket())}}


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The config file as a dict ({} when there is none)."""
    path = path or config_path()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        from facedub_cli.errors import FaceDubError

        raise FaceDubError("invalid_config", f"{path} is not valid TOML: {exc}") from exc


def dump_config(config: dict[str, Any]) -> str:
    """TOML text for our small schema: a top-level `profile` and `[profiles.NAME]` tables."""
    lines = []
    if "profile" in config:
        lines.append(f"profile = {json.dumps(str(config['profile']))}")
    for name, table in sorted(config.get("profiles", {}).items()):
        lines.append("")
        lines.append(f"[profiles.{json.dumps(name)}]")
        lines.extend(f"{key} = {json.dumps(str(value))}" for key, value in sorted(table.items()))
    return "\n".join(lines) + "\n"


def write_private_text(path: Path, text: str) -> Path:
    """Write `text` to `path`, 0600 in a 0700 folder (the config and the key file)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # a file written 0644 by an earlier version, too
    return path


def save_config(config: dict[str, Any], path: Path | None = None) -> Path:
    """Write the config file 0600 in a 0700 folder, as the key file beside it is."""
    return write_private_text(path or config_path(), dump_config(config))


def all_profiles(config: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Built-in profiles overlaid with the config file's."""
    merged = builtin_profiles()
    for name, table in config.get("profiles", {}).items():
        if isinstance(table, dict):
            merged.setdefault(name, {}).update({k: str(v) for k, v in table.items()})
    return merged


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host: what `httpx` can send requests to."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. a bad port or an unclosed IPv6 bracket
        return False


@dataclass(frozen=True)
class Target:
    """Where a command sends its requests, and why (for `config show`)."""

    profile: str
    api_url: str | None
    socket: Path | None
    source: str

    def describe(self) -> str:
        return f"socket {self.socket}" if self.socket else str(self.api_url)


def _level(api_url: str | None, socket: str | None) -> tuple[str | None, str | None] | None:
    if socket:
        return None, socket
    if api_url:
        return api_url, None
    return None


def resolve_profile(flag: str | None, config: dict[str, Any]) -> str:
    return flag or os.environ.get("FACEDUB_PROFILE") or config.get("profile") or DEFAULT_PROFILE


def resolve_target(
    *,
    profile_flag: str | None = None,
    api_url_flag: str | None = None,
    socket_flag: str | None = None,
    config: dict[str, Any] | None = None,
) -> Target:
    """Pick the server: the first level (flag, env, profile) that names a URL or a socket."""
    from facedub_cli.errors import FaceDubError

    config = load_config() if config is None else config
    profile = resolve_profile(profile_flag, config)
    profiles = all_profiles(config)
    if profile not in profiles:
        known = ", ".join(sorted(profiles))
        raise FaceDubError("usage_error", f"no profile named {profile!r} (known: {known})")
    table = profiles[profile]
    levels = [
        ("flag", _level(api_url_flag, socket_flag)),
        ("env", _level(os.environ.get("FACEDUB_API_URL"), os.environ.get("FACEDUB_SOCKET"))),
        (f"profile {profile}", _level(table.get("api_url"), table.get("socket"))),
    ]
    for source, chosen in levels:
        if chosen is not None:
            url, sock = chosen
            if url is not None and not is_http_url(url):
                named = {"flag": "--api-url", "env": "FACEDUB_API_URL"}.get(source, source)
                raise FaceDubError(
                    "usage_error", f"{named} must be an http:// or https:// URL, not {url!r}"
                )
            return Target(profile, url, Path(sock).expanduser() if sock else None, source)
    return Target(profile, HOSTED_URL, None, "default")
