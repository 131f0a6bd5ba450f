"""The whole user path on real input through a real facedubd and the real pipeline:
`facedub jobs create --wait` to a downloaded MP4, then download --views and watch."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from facedub_cli import FaceDubClient
from facedubd.pipeline.types import STAGES
from tests.cli.harness import Daemon, run_facedub

Sample = Callable[[str], Path]


def probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_create_wait_downloads_a_real_mp4(daemon: Daemon, sample: Sample, tmp_path: Path) -> None:
    photo, video = sample("grace_hopper.jpg"), sample("single_face.mp4")
    out = tmp_path / "videos" / "hopper.mp4"
    result = run_facedub(
        "jobs", "create", str(photo), str(video), "--duration", "2", "--wait", "-o", str(out),
        "--json", daemon=daemon, timeout=600,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    final = json.loads(result.stdout)
    assert result.stdout.count("\n") == 1
    assert (final["status"], final["stage"], final["duration_seconds"]) == ("completed", "done", 2)
    info = probe(out)
    kinds = {stream["codec_type"]: stream for stream in info["streams"]}
    assert kinds["video"]["codec_name"] == "h264"
    assert abs(float(info["format"]["duration"]) - 2.0) < 0.25
    assert out.stat().st_mode & 0o777 == 0o600

    job_id = final["id"]
    again = tmp_path / "again.mp4"
    got = run_facedub("jobs", "download", job_id, "-o", str(again), "--views", daemon=daemon)
    assert got.code == 0, got.stderr
    saved = {Path(line).name for line in got.stdout.splitlines()}
    assert {"again.mp4", "front.png", "preview.jpg", "close_up.png"} <= saved
    assert again.read_bytes() == out.read_bytes()
    assert (tmp_path / "again_views" / "front.png").read_bytes()[:4] == b"\x89PNG"

    watched = run_facedub("jobs", "watch", job_id, "--json", daemon=daemon)
    assert watched.code == 0
    assert [json.loads(line)["status"] for line in watched.stdout.splitlines()] == ["completed"]


@pytest.mark.slow
def test_sdk_follows_every_stage_over_sse(daemon: Daemon, sample: Sample) -> None:
    def no_polling(seconds: float) -> None:
        raise AssertionError("wait_for_job slept: it polled instead of reading the SSE stream")

    stages: list[str] = []
    with FaceDubClient(socket=daemon.socket, sleep=no_polling) as client:
        created = client.create_job(sample("grace_hopper.jpg"), sample("single_face.mp4"), 1)
        job = client.wait_for_job(
            created["job_id"], lambda update, raw: stages.append(update["stage"])
        )
    assert job["status"] == "completed"
    seen = list(dict.fromkeys(stages))
    assert seen == [stage for stage in STAGES if stage in seen]
    assert seen[-1] == "done" and "generating_video" in seen
