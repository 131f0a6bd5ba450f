"""The pure parts of `facedubd doctor`: version parsing and the list of problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facedubd.commands.doctor import free_bytes, parse_version_line, problems_in, render_text


def test_version_is_read_from_the_first_line() -> None:
    out = "ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024\nbuilt with gcc 12\n"
    assert parse_version_line(out) == "5.1.6-0+deb12u1"
    assert parse_version_line("ffprobe version n7.1 Copyright") == "n7.1"
    assert parse_version_line("") is None
    assert parse_version_line("something else") is None


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "ffmpeg": {"path": "/usr/bin/ffmpeg", "version": "5.1"},
        "ffprobe": {"path": "/usr/bin/ffprobe", "version": "5.1"},
        "onnxruntime": {"version": "1.31.1", "providers": ["CPUExecutionProvider"]},
        "models": [
            {"name": "face_landmark", "present": True, "sha256_verified": True, "problems": []}
        ],
        "data_dir": {"path": "/d", "exists": False, "free_bytes": 2**30},
        "cache_dir": {"path": "/c", "exists": True, "free_bytes": 2**31},
    }
    report.update(changes)
    report["problems"] = problems_in(report)
    report["ok"] = not report["problems"]
    return report


def test_a_complete_machine_has_no_problems_and_reads_ready() -> None:
    report = _report()
    assert report["problems"] == []
    text = render_text(report)
    assert text.endswith("ready") and "face_landmark" in text and "2.0 GiB free" in text


def test_missing_ffprobe_and_a_bad_model_are_named() -> None:
    bad = {"name": "face_landmark", "present": True, "sha256_verified": False,
           "problems": ["face_landmark.onnx does not match"]}  # fmt: skip
    missing = {"name": "iris_landmark", "present": False, "sha256_verified": False,
               "problems": ["iris_landmark.tflite is missing"]}  # fmt: skip
    report = _report(ffprobe={"path": None, "version": None}, models=[bad, missing])
    assert report["problems"] == [
        "ffprobe not found on PATH (Debian/Ubuntu: apt-get install ffmpeg)",
        "model face_landmark: face_landmark.onnx does not match",
        "model iris_landmark is missing (run: facedubd models fetch)",
    ]
    assert render_text(report).endswith("not ready")


def test_free_bytes_of_a_dir_not_yet_created_is_its_parents(tmp_path: Path) -> None:
    assert free_bytes(tmp_path / "not" / "yet") == pytest.approx(free_bytes(tmp_path), rel=0.01)
