"""The whole job on real input (DATA.md): the astronaut onto WolfgangLanger for 5 s and
Grace Hopper onto single_face.mp4 for 2 s through `facedubd.pipeline.run`, and once
through the `facedubd run` command."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline import run
from facedubd.pipeline.face import FaceModels, FaceTracker, load_face_models
from facedubd.pipeline.media import FrameReader, probe
from facedubd.pipeline.types import STAGES, VIEW_NAMES, PipelineSettings, RunResult
from facedubd.samples import sample_path

pytestmark = pytest.mark.slow

FACEDUBD = Path(sys.executable).parent / "facedubd"


@pytest.fixture(scope="module")
def models() -> Iterator[FaceModels]:
    yield load_face_models("cpu", 1)


def ffprobe(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    body: dict[str, object] = json.loads(done.stdout)
    return body


def face_share(path: Path, models: FaceModels) -> float:
    """The share of the output's frames on which a face mesh is found."""
    info = probe(path)
    tracker = FaceTracker(models)
    found = total = 0
    args = fa.decode_args(path, info.decode_spec(info.duration))
    with FrameReader(args, info.width, info.height) as reader:
        for frame in reader:
            total += 1
            found += tracker.update(frame) is not None
    return found / total


def assert_output_like_reference(output: Path, reference: Path, seconds: int) -> None:
    ref = probe(reference)
    body = ffprobe(output)
    streams = body["streams"]
    assert isinstance(streams, list)
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (ref.width, ref.height)
    assert Fraction(video["r_frame_rate"]) == ref.rate
    assert Fraction(video["avg_frame_rate"]) == ref.rate
    frame = 1 / ref.fps
    fmt = body["format"]
    assert isinstance(fmt, dict)
    assert abs(float(fmt["duration"]) - seconds) <= frame + 0.025
    assert abs(float(video["duration"]) - seconds) <= frame
    assert len(audio) == 1
    assert abs(float(audio[0]["duration"]) - float(video["duration"])) <= frame + 0.025
    tags = fmt["tags"]
    assert tags[fa.AI_TAG_KEY] == fa.AI_TAG_VALUE and "AI-generated" in tags["comment"]


def assert_private(path: Path, mode: int) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == mode, path


def assert_artifacts(result: RunResult, out_dir: Path) -> None:
    assert result.output == out_dir / "output.mp4"
    assert set(result.views) == set(VIEW_NAMES)
    for name, path in result.views.items():
        assert path == out_dir / "views" / f"{name}.png"
        with Image.open(path) as view:
            assert view.format == "PNG" and min(view.size) >= 64
        assert_private(path, 0o600)
    with Image.open(result.preview) as preview:
        assert preview.format == "JPEG"
    assert_private(out_dir, 0o700)
    assert_private(out_dir / "views", 0o700)
    assert_private(result.output, 0o600)
    assert_private(result.preview, 0o600)
    leftovers = {p.name for p in out_dir.iterdir()} - {"output.mp4", "preview.jpg", "views"}
    assert leftovers == set()


@pytest.mark.parametrize(
    ("photo", "video", "seconds"),
    [("astronaut.png", "WolfgangLanger_Pexels.mp4", 5), ("grace_hopper.jpg", "single_face.mp4", 2)],
)
def test_pipeline_run(
    tmp_path: Path, models: FaceModels, photo: str, video: str, seconds: int
) -> None:
    events: list[tuple[str, float]] = []
    out_dir = tmp_path / "job"
    result = run(
        sample_path(photo),
        sample_path(video),
        out_dir,
        PipelineSettings(duration=seconds, device="cpu"),
        lambda stage, progress: events.append((stage, progress)),
    )
    reference = sample_path(video)
    assert_output_like_reference(result.output, reference, seconds)
    assert_artifacts(result, out_dir)
    # Stages in order, each announced; generating_video reports at least every 5%.
    order = [stage for stage, _ in events]
    assert [s for i, s in enumerate(order) if i == 0 or order[i - 1] != s] == list(STAGES[1:])
    steps = [p for s, p in events if s == "generating_video"]
    assert steps[-1] == 1.0 and max(np.diff(steps)) <= 0.05
    assert abs(result.frames - seconds * probe(reference).fps) <= 1
    assert result.frames_with_face >= 0.95 * result.frames
    assert face_share(result.output, models) >= 0.95


def test_facedubd_run_command(tmp_path: Path, models: FaceModels) -> None:
    output = tmp_path / "dubbed.mp4"
    done = subprocess.run(
        [
            str(FACEDUBD),
            "run",
            str(sample_path("grace_hopper.jpg")),
            str(sample_path("single_face.mp4")),
            *("-o", str(output), "--duration", "2", "--device", "cpu", "--json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["output"] == str(output)
    assert body["frames"] == 60 and body["frames_with_face"] >= 57
    views = Path(body["views_dir"])
    assert views == tmp_path / "dubbed.facedub" / "views"
    assert sorted(p.name for p in views.iterdir()) == sorted(f"{n}.png" for n in VIEW_NAMES)
    # each view's path is where it now lies, not in the removed work folder
    assert body["views"] == {n: str(views / f"{n}.png") for n in VIEW_NAMES}
    assert body["preview"] == str(tmp_path / "dubbed.facedub" / "preview.jpg")
    assert_output_like_reference(output, sample_path("single_face.mp4"), 2)
    assert_private(output, 0o600)
    assert face_share(output, models) >= 0.95
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dubbed.facedub", "dubbed.mp4"]
