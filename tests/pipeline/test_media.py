"""Probing, streamed decode and encode, and output verification, on synthetic clips made
with the real ffmpeg inside each test."""

from __future__ import annotations

import fcntl
import math
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from facedubd.errors import PipelineError, UnreadableVideo
from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline.media import (
    FrameReader,
    FrameWriter,
    VideoInfo,
    pipe_max_bytes,
    probe,
    verify_output,
)
from facedubd.samples import sample_path
from tests.pipeline import clips


def decode_all(path: Path, seconds: float) -> tuple[list[np.ndarray], Fraction]:
    info = probe(path)
    with FrameReader(
        fa.decode_args(path, info.decode_spec(seconds)), info.width, info.height
    ) as reader:
        return list(reader), info.rate


def red_side(frame: np.ndarray) -> str:
    """Which half of the picture is red: top, bottom, left or right."""
    h, w = frame.shape[:2]
    halves = {
        "top": frame[: h // 2],
        "bottom": frame[h // 2 :],
        "left": frame[:, : w // 2],
        "right": frame[:, w // 2 :],
    }
    return max(halves, key=lambda name: float(halves[name][..., 0].mean()))


def test_upright_clip_is_red_on_top(tmp_path: Path) -> None:
    frames, _ = decode_all(clips.two_tone(tmp_path / "a.mp4"), 1)
    assert frames[0].shape == (240, 320, 3)
    assert red_side(frames[0]) == "top"


@pytest.mark.parametrize(
    ("degrees", "shape", "side"),
    [(90, (320, 240, 3), "left"), (180, (240, 320, 3), "bottom"), (270, (320, 240, 3), "right")],
)
def test_rotation_tag_gives_upright_frames(
    tmp_path: Path, degrees: int, shape: tuple[int, int, int], side: str
) -> None:
    source = clips.two_tone(tmp_path / "a.mp4")
    rotated = clips.with_rotation(source, tmp_path / f"rot{degrees}.mp4", degrees)
    info = probe(rotated)
    assert info.rotation == degrees
    assert (info.height, info.width, 3) == shape
    frames, _ = decode_all(rotated, 1)
    assert frames[0].shape == shape
    assert red_side(frames[0]) == side


def test_frame_pipes_hold_a_whole_frame(tmp_path: Path) -> None:
    """Both pipes to ffmpeg are grown to a frame (the system allows 1 MiB by default), so a
    frame passes in one piece; and frames still come through whole."""
    source = clips.test_pattern(tmp_path / "in.mp4", seconds=1)
    info = probe(source)
    frame_bytes = info.width * info.height * 3
    wanted = max(frame_bytes, 65536) if pipe_max_bytes() >= frame_bytes else pipe_max_bytes()
    with FrameReader(fa.decode_args(source, info.decode_spec(1)), info.width, info.height) as r:
        assert r._proc is not None and r._proc.stdout is not None
        got = fcntl.fcntl(r._proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        assert got == r.pipe_bytes >= wanted
        frames = list(r)
    assert len(frames) == 25 and all(f.shape == (240, 320, 3) for f in frames)
    spec = fa.EncodeSpec(width=info.width, height=info.height, rate=info.rate, frames=25)
    writer = FrameWriter(fa.encode_args(tmp_path / "out.mp4", spec), spec.width, spec.height)
    assert writer._proc.stdin is not None
    assert fcntl.fcntl(writer._proc.stdin.fileno(), fcntl.F_GETPIPE_SZ) == writer.pipe_bytes
    assert writer.pipe_bytes >= wanted
    for frame in frames:
        writer.write(frame)
    writer.close()
    verify_output(tmp_path / "out.mp4", 25, info.rate, expect_audio=False, size=(320, 240))


def test_no_audio_is_reported_and_encodes_without_audio(tmp_path: Path) -> None:
    source = clips.test_pattern(tmp_path / "silent.mp4", seconds=1)
    info = probe(source)
    assert not info.has_audio and info.audio_codec is None
    frames, rate = decode_all(source, 1)
    out = tmp_path / "out.mp4"
    spec = fa.EncodeSpec(width=info.width, height=info.height, rate=rate, frames=len(frames))
    writer = FrameWriter(fa.encode_args(out, spec), spec.width, spec.height)
    for frame in frames:
        writer.write(frame)
    writer.close()
    verify_output(out, len(frames), rate, expect_audio=False, size=(320, 240))
    facts = clips.stream_info(out)
    assert "streams.stream.1.codec_type" not in facts
    assert facts["format.tags.ai_generated"] == "facedub"
    assert facts["format.tags.comment"] == fa.AI_COMMENT


def test_variable_frame_rate_decodes_at_a_constant_rate(tmp_path: Path) -> None:
    source = clips.variable_rate(tmp_path / "vfr.mp4")
    assert clips.stream_info(source)["streams.stream.0.avg_frame_rate"] == "20/1"
    frames, rate = decode_all(source, 2)
    assert rate == 30
    assert len(frames) == 60  # the 20 dropped frames are filled by repeats


def test_odd_size_is_cropped_to_even(tmp_path: Path) -> None:
    source = clips.test_pattern(tmp_path / "odd.mp4", size="321x241", seconds=0.4)
    info = probe(source)
    assert (info.width, info.height) == (320, 240)
    frames, _ = decode_all(source, 0.4)
    assert frames[0].shape == (240, 320, 3)


def test_non_square_pixels_are_scaled_to_display_width(tmp_path: Path) -> None:
    source = clips.test_pattern(tmp_path / "sar.mp4", seconds=0.4, extra=("-vf", "setsar=4/3"))
    info = probe(source)
    assert info.sample_aspect == Fraction(4, 3)
    assert (info.width, info.height) == (426, 240)
    frames, _ = decode_all(source, 0.4)
    assert frames[0].shape == (240, 426, 3)


def _reencode(
    source: Path, info: VideoInfo, seconds: int, out: Path
) -> tuple[fa.EncodeSpec, list[np.ndarray], Fraction]:
    """Decode `seconds` of `source` and encode them to `out` with its sound, as a job does."""
    frames, rate = decode_all(source, seconds)
    spec = fa.EncodeSpec(
        width=info.width,
        height=info.height,
        rate=rate,
        frames=len(frames),
        audio_source=source,
        audio_codec=info.audio_codec,
        audio_duration=info.audio_duration,
        audio_start=info.audio_start,
    )
    writer = FrameWriter(fa.encode_args(out, spec), spec.width, spec.height)
    for frame in frames:
        writer.write(frame)
    writer.close()
    return spec, frames, rate


def test_encode_pads_short_audio_with_silence_to_the_video_length(tmp_path: Path) -> None:
    source = clips.test_pattern(tmp_path / "short_audio.mp4", seconds=2, audio_seconds=0.8)
    info = probe(source)
    assert info.audio_duration is not None and info.audio_duration < 1
    out = tmp_path / "out.mp4"
    spec, frames, rate = _reencode(source, info, 2, out)
    assert not spec.copy_audio
    verify_output(out, len(frames), rate, expect_audio=True, size=(320, 240))
    facts = clips.stream_info(out)
    video_s = float(facts["streams.stream.0.duration"])
    audio_s = float(facts["streams.stream.1.duration"])
    assert facts["streams.stream.1.codec_name"] == "aac"
    assert abs(audio_s - video_s) <= 1 / 25
    assert video_s == pytest.approx(2.0, abs=1 / 25)
    assert facts["streams.stream.0.r_frame_rate"] == "25/1"
    assert facts["streams.stream.0.pix_fmt"] == "yuv420p"


def test_reader_stopped_early_does_not_raise(tmp_path: Path) -> None:
    source = clips.test_pattern(tmp_path / "a.mp4", seconds=2)
    info = probe(source)
    with FrameReader(fa.decode_args(source, info.decode_spec(2)), 320, 240) as reader:
        first = next(iter(reader))
    assert first.shape == (240, 320, 3) and first.flags.writeable


def test_reader_of_a_damaged_file_raises_pipeline_error(tmp_path: Path) -> None:
    source = clips.test_pattern(tmp_path / "a.mp4", seconds=1)
    info = probe(source)
    damaged = tmp_path / "damaged.mp4"
    data = bytearray(source.read_bytes())
    data[len(data) // 3 :] = bytes(len(data) - len(data) // 3)
    damaged.write_bytes(bytes(data))
    with (
        pytest.raises((PipelineError, UnreadableVideo)),
        FrameReader(fa.decode_args(damaged, info.decode_spec(1)), 320, 240) as reader,
    ):
        frames = list(reader)
        assert len(frames) < 25  # fewer frames than the clip has: the decode failed


def test_text_file_does_not_probe(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(UnreadableVideo):
        probe(text)


def test_verify_rejects_a_wrong_duration(tmp_path: Path) -> None:
    source = clips.test_pattern(tmp_path / "a.mp4", seconds=1)
    with pytest.raises(PipelineError, match="long instead of"):
        verify_output(source, 50, Fraction(25), expect_audio=False, size=(320, 240))
    verify_output(source, 25, Fraction(25), expect_audio=False, size=(320, 240))


def test_colours_survive_decode_and_encode(tmp_path: Path) -> None:
    """Frames passed through unchanged come back within H.264 loss (BT.601-tagged source,
    BT.709-tagged output: both conversions honour the tags)."""
    source = sample_path("WolfgangLanger_Pexels.mp4")
    info = probe(source)
    frames, rate = decode_all(source, 1)
    out = tmp_path / "out.mp4"
    spec = fa.EncodeSpec(info.width, info.height, rate, len(frames), crf=12)
    writer = FrameWriter(fa.encode_args(out, spec), spec.width, spec.height)
    for frame in frames:
        writer.write(frame)
    writer.close()
    again, _ = decode_all(out, 1)
    assert len(again) == len(frames) == 24
    error = np.mean((np.stack(again).astype(float) - np.stack(frames)) ** 2)
    psnr = 10 * np.log10(255**2 / error)
    assert psnr > 40, psnr
    assert clips.stream_info(out)["streams.stream.0.color_space"] == "bt709"


def test_hdr_clip_is_detected_and_decoded_to_8_bit(tmp_path: Path) -> None:
    source = tmp_path / "pq.mp4"
    clips.ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.4"),
        *("-c:v", "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le"),
        *("-color_trc", "smpte2084", "-color_primaries", "bt2020", "-colorspace", "bt2020nc"),
        str(source),
    )
    info = probe(source)
    assert info.hdr and info.pix_fmt == "yuv420p10le" and info.codec == "hevc"
    frames, _ = decode_all(source, 0.4)
    assert len(frames) == 10 and frames[0].dtype == np.uint8
    assert 40 < float(frames[0].mean()) < 200  # tone-mapped, neither black nor blown out


CODECS = {
    "h264.mov": ("h264", ["-c:v", "libx264"]),
    "h264.mkv": ("h264", ["-c:v", "libx264"]),
    "hevc.mp4": ("hevc", ["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1"]),
    "hevc.mkv": ("hevc", ["-c:v", "libx265", "-x265-params", "log-level=error"]),
    "prores.mov": ("prores", ["-c:v", "prores_ks"]),
    "vp9.webm": ("vp9", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]),
    "vp9.mkv": ("vp9", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]),
    "av1.mp4": ("av1", ["-c:v", "libsvtav1", "-preset", "12"]),
    "av1.webm": ("av1", ["-c:v", "libsvtav1", "-preset", "12"]),
    "av1.mkv": ("av1", ["-c:v", "libsvtav1", "-preset", "12"]),
    "mpeg4.mp4": ("mpeg4", ["-c:v", "mpeg4"]),
    "mpeg4.avi": ("mpeg4", ["-c:v", "mpeg4"]),
}


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codecs_in_their_usual_containers_decode(tmp_path: Path, name: str) -> None:
    codec, args = CODECS[name]
    path = tmp_path / f"clip.{name}"
    clips.ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=0.4"), *args, str(path)
    )
    info = probe(path)
    assert info.codec == codec
    assert (info.width, info.height, info.rate) == (160, 120, 25)
    frames, _ = decode_all(path, 0.4)
    assert len(frames) == 10
    # testsrc2 is colourful: a decoded frame is neither flat nor black
    assert frames[5].std() > 20


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("24000/1001", Fraction(24000, 1001)),
        ("25", Fraction(25)),
        ("30000/1001", Fraction(30000, 1001)),
        ("60000/1001", Fraction(60000, 1001)),
        ("60", Fraction(60)),
    ],
)
def test_frame_rates_are_kept_exactly(tmp_path: Path, rate: str, expected: Fraction) -> None:
    path = clips.test_pattern(tmp_path / "r.mp4", size="160x120", rate=rate, seconds=1)
    info = probe(path)
    assert info.rate == expected
    frames, _ = decode_all(path, 1)
    assert len(frames) == math.ceil(expected - Fraction(1, 10**6))


def test_variable_rate_with_audio_stays_in_sync(tmp_path: Path) -> None:
    source = tmp_path / "vfr_audio.mp4"
    clips.ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2"),
        *("-f", "lavfi", "-i", "sine=frequency=500:sample_rate=48000:duration=2"),
        *("-vf", "select='not(between(n,10,29))'", "-fps_mode", "vfr"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)),
    )
    info = probe(source)
    frames, rate = decode_all(source, 2)
    out = tmp_path / "out.mp4"
    spec = fa.EncodeSpec(
        info.width,
        info.height,
        rate,
        len(frames),
        audio_source=source,
        audio_codec=info.audio_codec,
        audio_duration=info.audio_duration,
    )
    writer = FrameWriter(fa.encode_args(out, spec), spec.width, spec.height)
    for frame in frames:
        writer.write(frame)
    writer.close()
    facts = clips.stream_info(out)
    assert facts["streams.stream.0.r_frame_rate"] == facts["streams.stream.0.avg_frame_rate"]
    video_end = float(facts["streams.stream.0.duration"])
    audio_end = float(facts["streams.stream.1.duration"])
    assert abs(video_end - audio_end) <= 1 / 30


def test_picture_ending_before_its_audio_is_padded_with_its_last_frame(tmp_path: Path) -> None:
    source = clips.test_pattern(tmp_path / "short_picture.mp4", seconds=1.6, audio_seconds=2.0)
    info = probe(source)
    assert info.duration == pytest.approx(2.0, abs=0.05)  # the format's length: the audio's
    frames, _ = decode_all(source, 2)
    assert len(frames) == 50
    assert all(np.array_equal(frames[-1], frame) for frame in frames[40:])
    assert not np.array_equal(frames[38], frames[39])  # testsrc2 moves until the picture ends


def test_container_that_does_not_match_its_extension(tmp_path: Path) -> None:
    webm_named_mp4 = tmp_path / "really_webm.mp4"
    clips.ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=0.4"),
        *("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-f", "webm"),
        str(webm_named_mp4),
    )
    info = probe(webm_named_mp4)
    assert info.codec == "vp9"
    frames, _ = decode_all(webm_named_mp4, 0.4)
    assert len(frames) == 10


@pytest.mark.parametrize(("seconds", "silent_until"), [(2, 2.0), (3, 2.43)])
def test_sound_that_starts_late_is_preceded_by_silence(
    tmp_path: Path, seconds: int, silent_until: float
) -> None:
    """face_noface.mov's sound starts 2.43 s after its picture. A 2 s output used to have
    no sound at all (the job failed after it was charged); now its sound is silence, and
    a 3 s output is silent until 2.43 s, then has the reference's sound, in place."""
    source = sample_path("face_noface.mov")
    info = probe(source)
    assert info.audio_start == pytest.approx(2.43, abs=0.01)
    out = tmp_path / "out.mp4"
    _, frames, rate = _reencode(source, info, seconds, out)
    verify_output(out, len(frames), rate, expect_audio=True, size=(info.width, info.height))
    detected = subprocess.run(
        ["ffmpeg", "-nostdin", "-i", str(out), "-af", "silencedetect=n=-60dB:d=0.3",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    starts = [float(v) for v in re.findall(r"silence_start: ([0-9.]+)", detected)]
    ends = [float(v) for v in re.findall(r"silence_end: ([0-9.]+)", detected)]
    assert starts and starts[0] == pytest.approx(0.0, abs=0.03)
    # Silent to the end (a silence still open at the end reports no end), or until 2.43 s.
    silence_end = ends[0] if ends else float(seconds)
    assert silence_end == pytest.approx(silent_until, abs=0.05)
