"""Where the daemon keeps things. One place, one override each (DESIGN "Names and places")."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DB_NAME = "facedubd.db"
CONFIG_NAME = "facedubd.toml"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data dir: --data-dir, else FACEDUBD_DATA_DIR, else platformdirs' user data dir."""
    chosen = override or os.environ.get("FACEDUBD_DATA_DIR")
    return Path(chosen) if chosen else Path(platformdirs.user_data_dir("facedubd"))


def cache_dir() -> Path:
    """The model and test-media cache shared by every data dir: FACEDUB_CACHE_DIR overrides."""
    chosen = os.environ.get("FACEDUB_CACHE_DIR")
    return Path(chosen) if chosen else Path(platformdirs.user_cache_dir("facedub"))


def default_socket(data: Path) -> Path:
    return data / "run" / "facedubd.sock"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make it 0700: faces are personal data."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def make_private_parents(path: Path) -> list[Path]:
    """Create the missing folders above `path`, each 0700 (faces are personal data), and
    return them, the outermost first; folders that exist already are left as they are.
    NotADirectoryError names the first one above `path` that exists and is not a folder."""
    missing = []
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(folder))
    made = []
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)
        os.chmod(new, 0o700)  # mkdir's mode passes through the umask
        made.append(new)
    return made


def write_private_file(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner (0600), creating it with that mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
