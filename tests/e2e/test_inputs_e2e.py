"""Inputs as users send them, through the whole job (`facedubd run` and
`facedubd.pipeline.run`): rotated phone clips, Unicode names, clips without sound, a face
in only part of the clip, and refusals as one stderr line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from facedubd.pipeline import run
from facedubd.pipeline.types import PipelineSettings
from tests.pipeline import variants as v
from tests.pipeline.clips import ffmpeg

Sample = Callable[[str], Path]
FACEDUBD = Path(sys.executable).parent / "facedubd"


def facedubd_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FACEDUBD), "run", *args, "--device", "cpu"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ},
    )


def test_refusal_names_the_codec_in_one_stderr_line(tmp_path: Path, sample: Sample) -> None:
    mov = v.small(sample(v.SOURCE), tmp_path / "clip.mov", seconds=1.0)
    folder = tmp_path / "Vidéos d'été 名前"
    folder.mkdir()
    vvc = folder / "clip — H.266.mov"
    vvc.write_bytes(mov.read_bytes().replace(b"avc1", b"vvc1"))
    done = facedubd_run(
        str(sample("grace_hopper.jpg")), str(vvc), "-o", str(tmp_path / "o.mp4"), "--duration", "1"
    )
    assert done.returncode == 2 and not (tmp_path / "o.mp4").exists()
    assert done.stderr.splitlines() == [
        "error: unsupported_codec: The video uses the H.266 (VVC) codec, which this machine's "
        "ffmpeg cannot decode: convert it to H.264 first."
    ]


@pytest.mark.slow
def test_rotated_phone_clip_with_unicode_names_comes_out_upright(
    tmp_path: Path, sample: Sample
) -> None:
    upright = v.small(sample(v.SOURCE), tmp_path / "up.mp4", seconds=1.0)
    folder = tmp_path / "Fotos y vídeos ✓"
    folder.mkdir()
    photo = folder / "mi foto ñ.jpg"
    photo.write_bytes(sample("grace_hopper.jpg").read_bytes())
    clip = folder / "clip de teléfono 1.mp4"
    ffmpeg("-i", str(upright), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(clip))
    output = folder / "salida ü.mp4"
    done = facedubd_run(str(photo), str(clip), "-o", str(output), "--duration", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == str(output)
    video = v.stream(output, "video")
    assert video is not None and (video["width"], video["height"]) == (180, 320)
    assert not video.get("side_data_list")  # upright pixels, no rotation left to apply
    got = v.decode(output, 1.0)
    expected = np.rot90(v.decode(upright, 1.0), k=1, axes=(1, 2))  # the player's view
    # Away from the (dubbed) face, the picture is the reference as a player shows it.
    assert v.psnr(got[:, 250:], expected[:, 250:]) > 30


@pytest.mark.slow
def test_face_in_part_of_the_clip_leaves_the_other_frames_unchanged(
    tmp_path: Path, sample: Sample
) -> None:
    face = v.small(sample(v.SOURCE), tmp_path / "face.mp4", seconds=1.0)
    empty = tmp_path / "empty.mp4"
    ffmpeg(
        *("-i", str(sample("no_face.mp4")), "-t", "1", "-vf", "scale=320:180,fps=30"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", *v.BT709_TAGS, "-c:a", "aac", str(empty)),
    )
    clip = tmp_path / "half.mp4"
    ffmpeg(
        *("-i", str(face), "-i", str(empty), "-filter_complex"),
        "[0:v][0:a][1:v][1:a]concat=n=2:v=1:a=1[v][a]",
        *("-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        *(*v.BT709_TAGS, "-c:a", "aac", str(clip)),
    )
    result = run(
        sample("grace_hopper.jpg"),
        clip,
        tmp_path / "out",
        PipelineSettings(duration=2, device="cpu"),
        lambda stage, progress: None,
    )
    assert result.frames == 60 and 27 <= result.frames_with_face <= 31
    got, reference = v.decode(result.output, 2.0), v.decode(clip, 2.0)
    assert len(got) == len(reference) == 60
    unchanged = [v.psnr(got[i], reference[i]) for i in range(31, 60)]
    assert min(unchanged) > 35, unchanged  # only the encoder's loss (measured 38.9 dB)
    dubbed = [v.psnr(got[i], reference[i]) for i in range(0, 29)]
    assert max(dubbed) < min(unchanged) - 3  # the face frames did change


@pytest.mark.slow
def test_clip_without_sound_gives_an_output_without_sound(tmp_path: Path, sample: Sample) -> None:
    mute = v.small(sample(v.SOURCE), tmp_path / "mute.mp4", "-an", seconds=1.0)
    result = run(
        sample("grace_hopper.jpg"),
        mute,
        tmp_path / "out",
        PipelineSettings(duration=1, device="cpu"),
        lambda stage, progress: None,
    )
    assert v.stream(result.output, "audio") is None
    video = v.stream(result.output, "video")
    assert video is not None and int(video["nb_frames"]) == 30


@pytest.mark.slow
def test_two_people_only_the_main_one_is_dubbed(tmp_path: Path, sample: Sample) -> None:
    from tests.pipeline.test_inputs_faces import SPLIT_X, two_people

    clip = two_people(sample, tmp_path / "two.mp4")
    result = run(
        sample("grace_hopper.jpg"),
        clip,
        tmp_path / "out",
        PipelineSettings(duration=1, device="cpu"),
        lambda stage, progress: None,
    )
    got, reference = v.decode(result.output, 1.0), v.decode(clip, 1.0)
    assert result.frames_with_face == len(got) == 30
    # The woman on the right is never touched; the man on the left is dubbed throughout.
    right = [v.psnr(g[:, SPLIT_X:], r[:, SPLIT_X:]) for g, r in zip(got, reference, strict=True)]
    left = [v.psnr(g[:, :SPLIT_X], r[:, :SPLIT_X]) for g, r in zip(got, reference, strict=True)]
    assert min(right) > 38, right  # measured 44.2 dB; the dubbed left side at most 32.5
    assert max(left) < min(right) - 6, left
