"""`facedubd doctor` run as a real process against real ffmpeg, onnxruntime and caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FACEDUBD = Path(sys.executable).parent / "facedubd"


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FACEDUBD), "doctor", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_an_empty_cache_means_missing_models_and_exit_1(tmp_path: Path) -> None:
    env = {**os.environ, "FACEDUB_CACHE_DIR": str(tmp_path / "cache")}
    done = _doctor(env, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    assert report["ffmpeg"]["version"] and report["ffprobe"]["version"]
    assert "CPUExecutionProvider" in report["onnxruntime"]["providers"]
    names = {m["name"] for m in report["models"]}
    assert {"face_detection_short_range", "face_landmark"} <= names
    assert not any(m["present"] for m in report["models"])
    assert report["cache_dir"] == {
        "path": str(tmp_path / "cache"),
        "exists": False,
        "free_bytes": report["cache_dir"]["free_bytes"],
    }
    assert report["cache_dir"]["free_bytes"] > 0
    assert report["data_dir"]["path"] == os.environ["FACEDUBD_DATA_DIR"]
    assert not (tmp_path / "cache").exists()  # doctor only looks


def test_without_ffmpeg_on_path_doctor_names_it(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "FACEDUB_CACHE_DIR": str(tmp_path / "c")}
    done = _doctor(env)
    assert done.returncode == 1
    assert "ffmpeg       MISSING" in done.stdout
    assert "problem: ffmpeg not found on PATH" in done.stdout
    assert done.stdout.rstrip().endswith("not ready")
    assert "Traceback" not in done.stderr


def test_with_fetched_models_the_machine_is_ready(model_paths: dict[str, Path]) -> None:
    assert model_paths  # the fixture fetched and converted every manifest model
    done = _doctor(dict(os.environ), "--json")
    report = json.loads(done.stdout)
    assert report["problems"] == []
    assert done.returncode == 0 and report["ok"] is True
    assert all(m["present"] and m["sha256_verified"] for m in report["models"])
    assert report["cache_dir"]["exists"] is True
