"""The model manifest (`models/manifest.toml`, installed as `facedubd/data/manifest.toml`):
typed, validated entries for models, assets and test media."""

from __future__ import annotations

import dataclasses
import importlib.resources
import tomllib
from pathlib import Path
from typing import Any

from facedubd.errors import ModelError

LOCAL_SOURCE = "local"


@dataclasses.dataclass(frozen=True)
class Source:
    """A registry package whose wheel holds pinned members."""

    key: str
    package: str
    version: str
    licence: str
    pip_download: tuple[str, ...]
    wheel: str | None = None
    wheel_sha256: str | None = None
    wheel_glob: str | None = None


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    meaning: str = ""


@dataclasses.dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]
    layout: str
    colour: str
    range: tuple[float, float]
    normalisation: str


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One model: from a wheel member (`source`, `member`) or a user's file (`path`)."""

    name: str
    task: str
    licence: str
    sha256: str
    source: Source | None
    member: str | None
    path: Path | None
    input: InputSpec | None
    outputs: tuple[TensorSpec, ...]
    description: str = ""

    @property
    def is_local(self) -> bool:
        return self.source is None


@dataclasses.dataclass(frozen=True)
class FileEntry:
    """A pinned non-model file in a wheel: a model asset or a test medium."""

    name: str
    source: Source
    member: str
    sha256: str
    file: str
    licence: str
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Manifest:
    sources: dict[str, Source]
    models: dict[str, ModelEntry]
    assets: dict[str, FileEntry]
    media: dict[str, FileEntry]


def packaged_manifest_path() -> Path:
    """The manifest installed with the package (a symlink to models/manifest.toml in a checkout)."""
    resource = importlib.resources.files("facedubd") / "data" / "manifest.toml"
    return Path(str(resource))


def _require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ModelError(f"manifest: {where} lacks the field {key!r}")
    return table[key]


def _check_sha(value: Any, where: str) -> str:
    text = str(value).lower()
    if len(text) != 64 or any(ch not in "0123456789abcdef" for ch in text):
        raise ModelError(f"manifest: {where} has a sha256 that is not 64 hex digits")
    return text


def _parse_source(key: str, table: dict[str, Any]) -> Source:
    where = f"[sources.{key}]"
    wheel = table.get("wheel")
    wheel_sha = table.get("wheel_sha256")
    if wheel is None and table.get("wheel_glob") is None:
        raise ModelError(f"manifest: {where} needs `wheel` or `wheel_glob`")
    return Source(
        key=key,
        package=str(_require(table, "package", where)),
        version=str(_require(table, "version", where)),
        licence=str(_require(table, "licence", where)),
        pip_download=tuple(str(a) for a in _require(table, "pip_download", where)),
        wheel=None if wheel is None else str(wheel),
        wheel_sha256=None if wheel_sha is None else _check_sha(wheel_sha, where),
        wheel_glob=table.get("wheel_glob"),
    )


def _parse_input(table: dict[str, Any], where: str) -> InputSpec:
    low, high = _require(table, "range", where)
    return InputSpec(
        name=str(_require(table, "name", where)),
        shape=tuple(int(d) for d in _require(table, "shape", where)),
        layout=str(_require(table, "layout", where)),
        colour=str(_require(table, "colour", where)),
        range=(float(low), float(high)),
        normalisation=str(_require(table, "normalisation", where)),
    )


def _parse_outputs(items: list[dict[str, Any]], where: str) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(
            name=str(_require(item, "name", where)),
            shape=tuple(int(d) for d in _require(item, "shape", where)),
            meaning=str(item.get("meaning", "")),
        )
        for item in items
    )


def _parse_model(name: str, table: dict[str, Any], sources: dict[str, Source]) -> ModelEntry:
    where = f"[models.{name}]"
    source_key = str(_require(table, "source", where))
    source: Source | None = None
    member: str | None = None
    path: Path | None = None
    if source_key == LOCAL_SOURCE:
        path = Path(str(_require(table, "path", where))).expanduser()
    else:
        if source_key not in sources:
            raise ModelError(f"manifest: {where} names an unknown source {source_key!r}")
        source = sources[source_key]
        member = str(_require(table, "member", where))
    raw_input = table.get("input")
    return ModelEntry(
        name=name,
        task=str(_require(table, "task", where)),
        licence=str(_require(table, "licence", where)),
        sha256=_check_sha(_require(table, "sha256", where), where),
        source=source,
        member=member,
        path=path,
        input=None if raw_input is None else _parse_input(raw_input, where),
        outputs=_parse_outputs(table.get("outputs", []), where),
        description=str(table.get("description", "")),
    )


def _parse_file(
    kind: str, name: str, table: dict[str, Any], sources: dict[str, Source]
) -> FileEntry:
    where = f"[{kind}.{name}]"
    source_key = str(_require(table, "source", where))
    if source_key not in sources:
        raise ModelError(f"manifest: {where} names an unknown source {source_key!r}")
    source = sources[source_key]
    return FileEntry(
        name=name,
        source=source,
        member=str(_require(table, "member", where)),
        sha256=_check_sha(_require(table, "sha256", where), where),
        file=str(table.get("file", name)),
        licence=str(table.get("licence", source.licence)),
        description=str(table.get("description", "")),
    )


def parse_manifest(data: dict[str, Any]) -> Manifest:
    """Validate a loaded TOML document and return the typed manifest."""
    sources = {k: _parse_source(k, v) for k, v in data.get("sources", {}).items()}
    models = {k: _parse_model(k, v, sources) for k, v in data.get("models", {}).items()}
    assets = {k: _parse_file("assets", k, v, sources) for k, v in data.get("assets", {}).items()}
    media = {k: _parse_file("media", k, v, sources) for k, v in data.get("media", {}).items()}
    return Manifest(sources=sources, models=models, assets=assets, media=media)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ModelError(f"manifest {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"manifest {path} is not valid TOML: {exc}") from None


def load_manifest(path: Path | None = None, extra: Path | None = None) -> Manifest:
    """Load the packaged manifest (or `path`), merged with a user's `extra` manifest whose
    models (typically `source = "local"`) are added or override entries of the same name."""
    data = _read_toml(path or packaged_manifest_path())
    if extra is not None:
        more = _read_toml(extra)
        for section in ("sources", "models", "assets", "media"):
            data.setdefault(section, {}).update(more.get(section, {}))
    return parse_manifest(data)
