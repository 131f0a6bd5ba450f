"""`facedubd models ...` and `facedubd samples fetch` through the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from facedubd.models.manifest import load_manifest

FACEDUBD = Path(sys.executable).with_name("facedubd")


def facedubd(*args: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if cache is not None:
        env["FACEDUB_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [str(FACEDUBD), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_list_json_shows_every_model_ready(model_paths: dict[str, Path]) -> None:
    done = facedubd("models", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == list(load_manifest().models)
    for row in rows:
        assert row["state"] == "ready" and row["licence"] == "Apache-2.0"
        assert row["path"] == str(model_paths[row["name"]])


def test_list_table_is_one_line_a_model_with_whole_paths(model_paths: dict[str, Path]) -> None:
    """Piped, it was a Rich box table 80 columns wide: names and paths folded over several
    lines (`face_detection_sho` / `rt_range`), so `grep` found no path (QA pass)."""
    done = facedubd("models", "list")
    assert done.returncode == 0
    header, *lines = done.stdout.splitlines()
    assert header.split() == ["NAME", "TASK", "LICENCE", "STATE", "PATH"]
    assert [line.split()[0] for line in lines] == list(load_manifest().models)
    for line in lines:
        name, _task, licence, state, path = line.split()
        assert (licence, state, path) == ("Apache-2.0", "ready", str(model_paths[name]))


def test_verify_flags_a_damaged_model_and_exits_non_zero(
    tmp_path: Path, model_paths: dict[str, Path]
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(model_paths["face_landmark"].parent, cache / "models")
    assert facedubd("models", "verify", "--json", cache=cache).returncode == 0
    onnx = cache / "models" / "face_landmark.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    done = facedubd("models", "verify", "--json", cache=cache)
    assert done.returncode == 1
    states = {row["name"]: row["state"] for row in json.loads(done.stdout)}
    assert states.pop("face_landmark") == "mismatch"
    assert set(states.values()) == {"ok"}
    table = facedubd("models", "verify", cache=cache)
    assert table.returncode == 1
    rows = {line.split()[0]: line.split(maxsplit=2)[1:] for line in table.stdout.splitlines()}
    assert rows.pop("NAME") == ["STATE", "PROBLEMS"]
    assert rows.pop("face_landmark")[0] == "mismatch"
    assert {state for state, _problems in rows.values()} == {"ok"}


def test_fetch_of_an_unknown_model_prints_one_error_line() -> None:
    done = facedubd("models", "fetch", "no_such_model")
    assert done.returncode == 2 and done.stdout == ""  # a usage error, before any download
    assert done.stderr.startswith("error: invalid_request: unknown model 'no_such_model'")
    assert done.stderr.count("\n") == 1


def test_fetch_json_reports_paths_and_hashes(model_paths: dict[str, Path]) -> None:
    done = facedubd("models", "fetch", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["face_landmark"]["path"] == str(model_paths["face_landmark"])
    assert len(rows["face_landmark"]["onnx_sha256"]) == 64
    assert rows["face_mesh_connections"]["asset"] is True


def test_samples_fetch_json() -> None:
    done = facedubd("samples", "fetch", "astronaut.png", "grace_hopper.jpg", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == ["astronaut.png", "grace_hopper.jpg"]
    assert all(Path(r["path"]).is_file() for r in rows)
