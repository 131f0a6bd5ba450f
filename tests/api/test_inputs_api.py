"""`POST /jobs` against a real daemon with inputs as users send them: Unicode and spaces in
the uploaded file names, and the shared input check's refusals with the same code and
sentence `facedubd run` prints, before anything is charged."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from facedubd.errors import InputError
from facedubd.pipeline import inputs
from facedubd.pipeline.face import load_face_models
from tests.harness import Daemon
from tests.pipeline import variants as v
from tests.pipeline.clips import ffmpeg

Sample = Callable[[str], Path]


@pytest.fixture(scope="module")
def carol(api_daemon: Daemon) -> str:
    return api_daemon.create_user("carol@example.com")[1]


def post(daemon: Daemon, key: str, photo: tuple[str, bytes], video: tuple[str, bytes]) -> Any:
    with daemon.client(key) as client:
        before = client.get("/usage").json()["credits_used"]
        reply = client.post(
            "/jobs",
            files={"character_photo": photo, "reference_video": video},
            data={"duration": "1"},
        )
        after = client.get("/usage").json()["credits_used"]
    return reply, after - before


def test_unicode_and_spaces_in_uploaded_names(
    api_daemon: Daemon, carol: str, sample: Sample
) -> None:
    photo = ("mi foto ñ ü 名前.jpg", sample("grace_hopper.jpg").read_bytes())
    video = ("clip — tëst 1 ✓.mp4", sample("single_face.mp4").read_bytes())
    reply, charged = post(api_daemon, carol, photo, video)
    assert reply.status_code == 200, reply.text
    assert reply.json()["credits_charged"] == 1 and charged == 1


def _refusal_in_process(photo: Path, video: Path) -> tuple[str, str]:
    try:
        inputs.check_inputs(photo, video, 1, load_face_models("cpu", 1))
    except InputError as refused:
        return refused.code, refused.message
    raise AssertionError("not refused")


def _audio_only(sample: Sample, path: Path) -> Path:
    ffmpeg("-i", str(sample("single_face.mp4")), "-vn", "-t", "1.5", "-c:a", "aac", str(path))
    return path


def _h266(sample: Sample, path: Path) -> Path:
    mov = v.small(sample("single_face.mp4"), path.with_suffix(".tmp.mov"), seconds=1.5)
    path.write_bytes(mov.read_bytes().replace(b"avc1", b"vvc1"))
    return path


@pytest.mark.parametrize(
    ("make", "code"),
    [(_audio_only, "unreadable_video"), (_h266, "unsupported_codec")],
    ids=["audio_only", "h266"],
)
def test_refusal_matches_the_shared_check_and_charges_nothing(
    api_daemon: Daemon,
    carol: str,
    sample: Sample,
    tmp_path: Path,
    make: Callable[[Sample, Path], Path],
    code: str,
) -> None:
    video = make(sample, tmp_path / "clip.mp4")
    photo = sample("grace_hopper.jpg")
    expected_code, sentence = _refusal_in_process(photo, video)
    reply, charged = post(
        api_daemon, carol, ("p.jpg", photo.read_bytes()), ("v.mp4", video.read_bytes())
    )
    assert reply.status_code == 400 and charged == 0
    body = reply.json()
    assert body["code"] == expected_code == code
    assert body["detail"] == sentence
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "facedubd"),
            *("run", str(photo), str(video), "-o", str(tmp_path / "o.mp4")),
            *("--duration", "1", "--device", "cpu"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.stderr.splitlines() == [f"error: {code}: {sentence}"]
