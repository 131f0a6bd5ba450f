"""API keys per profile: the OS keyring, else a 0600 file in the config dir.
FACEDUB_API_KEY, when set, beats both."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from facedub_cli.config import config_dir, write_private_text

SERVICE = "facedub"


def fallback_path() -> Path:
    return config_dir() / "credentials.json"


@dataclass(frozen=True)
class StoredKey:
    key: str
    where: str  # "env", "keyring" or the fallback file's path


def _read_file() -> dict[str, str]:
    try:
        data = json.loads(fallback_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_file(keys: dict[str, str]) -> Path:
    return write_private_text(fallback_path(), json.dumps(keys))


def save_key(profile: str, key: str) -> tuple[str, str | None]:
    """Store `key`; returns (where, warning). The warning is set when the file was used."""
    import keyring

    try:
        keyring.set_password(SERVICE, profile, key)
    except Exception as exc:  # any backend failure means: no usable keyring
        keys = _read_file()
        keys[profile] = key
        path = _write_file(keys)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return str(path), f"no usable OS keyring ({reason}); key saved to {path} (mode 0600)"
    # A key left in the file from an earlier fallback must not shadow the new one.
    keys = _read_file()
    if keys.pop(profile, None) is not None:
        _write_file(keys)
    return "keyring", None


def load_key(profile: str) -> StoredKey | None:
    """The key to send for `profile`: env, then keyring, then the fallback file."""
    env = os.environ.get("FACEDUB_API_KEY")
    if env:
        return StoredKey(env, "env")
    import keyring

    try:
        found = keyring.get_password(SERVICE, profile)
    except Exception:  # a broken keyring reads as empty; the file may still hold it
        found = None
    if found:
        return StoredKey(found, "keyring")
    from_file = _read_file().get(profile)
    return StoredKey(from_file, str(fallback_path())) if from_file else None


def delete_key(profile: str) -> bool:
    """Forget the key for `profile` everywhere it is stored; True when one was."""
    import keyring

    removed = False
    try:
        keyring.delete_password(SERVICE, profile)
        removed = True
    except Exception:  # absent or no keyring: nothing to remove there
        pass
    keys = _read_file()
    if keys.pop(profile, None) is not None:
        _write_file(keys)
        removed = True
    return removed
