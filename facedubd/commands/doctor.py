"""`facedubd doctor`: is this machine ready to run jobs?

It reports ffmpeg and ffprobe, onnxruntime and its execution providers, every model of
the manifest (present, sha256 verified), the data and cache dirs and their free disk,
and exits non-zero when something needed (ffmpeg, ffprobe, a model) is missing or
does not verify. It only looks: nothing is downloaded or converted."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer

from facedubd import paths

VERSION_LINE = re.compile(r"^\S+ version (\S+)")


def parse_version_line(output: str) -> str | None:
    """The version from `ffmpeg -version` output: 'ffmpeg version 5.1.6-0+deb12u1 ...'."""
    first = output.splitlines()[0] if output else ""
    match = VERSION_LINE.match(first)
    return match.group(1) if match else None


def tool_report(name: str) -> dict[str, Any]:
    """Where an ffmpeg tool is and its version; path None when it is not on PATH."""
    found = shutil.which(name)
    if found is None:
        return {"path": None, "version": None}
    try:
        done = subprocess.run(
            [found, "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return {"path": found, "version": None}
    return {"path": found, "version": parse_version_line(done.stdout)}


def onnxruntime_report() -> dict[str, Any]:
    try:
        import onnxruntime
    except ImportError:
        return {"version": None, "providers": []}
    return {
        "version": onnxruntime.__version__,
        "providers": list(onnxruntime.get_available_providers()),
    }


def models_report() -> list[dict[str, Any]]:
    """Per model: present on disk, and whether every file matches its sha256."""
    from facedubd.models import verify_models

    return [
        {
            "name": row.name,
            "present": row.state != "missing",
            "sha256_verified": row.ok,
            "path": None if row.path is None else str(row.path),
            "problems": list(row.problems),
        }
        for row in verify_models()
    ]


def free_bytes(path: Path) -> int:
    """Free disk space where `path` is or would be created (its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def dir_report(path: Path) -> dict[str, Any]:
    return {"path": str(path), "exists": path.is_dir(), "free_bytes": free_bytes(path)}


def problems_in(report: dict[str, Any]) -> list[str]:
    """The needed things that are missing or broken, one sentence each."""
    problems = [
        f"{tool} not found on PATH (Debian/Ubuntu: apt-get install ffmpeg)"
        for tool in ("ffmpeg", "ffprobe")
        if report[tool]["path"] is None
    ]
    if report["onnxruntime"]["version"] is None:
        problems.append("onnxruntime is not installed (pip install 'facedub[cpu]')")
    for model in report["models"]:
        if not model["present"]:
            problems.append(f"model {model['name']} is missing (run: facedubd models fetch)")
        elif not model["sha256_verified"]:
            problems.append(f"model {model['name']}: {'; '.join(model['problems'])}")
    return problems


def collect(data_dir: Path, cache_dir: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "ffmpeg": tool_report("ffmpeg"),
        "ffprobe": tool_report("ffprobe"),
        "onnxruntime": onnxruntime_report(),
        "models": models_report(),
        "data_dir": dir_report(data_dir),
        "cache_dir": dir_report(cache_dir),
    }
    report["problems"] = problems_in(report)
    report["ok"] = not report["problems"]
    return report


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB free"


def render_text(report: dict[str, Any]) -> str:
    lines = []
    for tool in ("ffmpeg", "ffprobe"):
        info = report[tool]
        lines.append(f"{tool:<12} {info['version'] or '?'} ({info['path']})" if info["path"]
                     else f"{tool:<12} MISSING")  # fmt: skip
    ort = report["onnxruntime"]
    lines.append(f"{'onnxruntime':<12} {ort['version'] or 'MISSING'}")
    lines.append(f"{'providers':<12} {', '.join(ort['providers']) or '-'}")
    for model in report["models"]:
        state = "ok" if model["sha256_verified"] else ("MISSING" if not model["present"] else "BAD")
        lines.append(f"{'model':<12} {model['name']:<34} {state}")
    for key in ("data_dir", "cache_dir"):
        info = report[key]
        where = info["path"] + ("" if info["exists"] else " (not created yet)")
        lines.append(f"{key.replace('_', ' '):<12} {where}, {_gib(info['free_bytes'])}")
    lines.extend(f"problem: {problem}" for problem in report["problems"])
    lines.append("ready" if report["ok"] else "not ready")
    return "\n".join(lines)


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data dir (default: FACEDUBD_DATA_DIR or the user's)."),
    ] = None,
) -> None:
    """Check ffmpeg, onnxruntime, the models and the dirs; exit 1 if something needed is missing.

    Exit codes: 0 ready, 1 not ready (each problem is named), 2 usage."""
    report = collect(paths.data_dir(data_dir), paths.cache_dir())
    typer.echo(json.dumps(report, separators=(",", ":")) if as_json else render_text(report))
    if not report["ok"]:
        raise typer.Exit(1)
