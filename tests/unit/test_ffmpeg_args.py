"""The ffmpeg / ffprobe command lines, compared as whole argument lists."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from facedubd.pipeline import ffmpeg_args as fa

QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error"]
NTSC_FILM = Fraction(24000, 1001)


def test_probe_args_ask_for_json_format_and_streams() -> None:
    assert fa.probe_args(Path("in put.mov")) == [
        "ffprobe",
        "-hide_banner",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "in put.mov",
    ]


def test_probe_args_with_packet_times_read_them_in_the_same_run() -> None:
    assert fa.probe_args(Path("clip.mp4"), 6.0) == [
        *("ffprobe", "-hide_banner", "-v", "error", "-print_format", "json"),
        *("-show_format", "-show_streams", "-read_intervals", "%+6.000000"),
        *("-show_entries", "packet=stream_index,pts_time", "clip.mp4"),
    ]


def test_decode_is_cfr_even_cropped_trimmed_rgb24_on_stdout() -> None:
    spec = fa.DecodeSpec(rate=NTSC_FILM, duration=5, width=640, height=360)
    assert fa.decode_args(Path("ref.mp4"), spec) == [
        "ffmpeg",
        "-i",
        "ref.mp4",
        "-filter_complex",
        "[0:v:0]fps=fps=24000/1001[s0];[s0]tpad=stop=-1:stop_mode=clone[s1];"
        "[s1]crop=h=360:w=640:x=0:y=0[s2]",
        "-map",
        "[s2]",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-t",
        "5.000000",
        "pipe:",
        *QUIET,
    ]


def test_decode_scales_non_square_pixels_and_tone_maps_hdr() -> None:
    spec = fa.DecodeSpec(
        rate=Fraction(25), duration=2, width=854, height=480, sample_aspect=Fraction(4, 3), hdr=True
    )
    args = fa.decode_args(Path("hdr.mkv"), spec)
    graph = args[args.index("-filter_complex") + 1]
    assert graph == (
        "[0:v:0]zscale=npl=203:t=linear[s0];[s0]format=gbrpf32le[s1];[s1]zscale=p=bt709[s2];"
        "[s2]tonemap=desat=0:tonemap=mobius[s3];[s3]zscale=m=bt709:r=tv:t=bt709[s4];"
        "[s4]format=yuv420p[s5];[s5]fps=fps=25/1[s6];[s6]tpad=stop=-1:stop_mode=clone[s7];"
        "[s7]scale=h=480:w=854[s8];[s8]setsar=1[s9];"
        "[s9]crop=h=480:w=854:x=0:y=0[s10]"
    )


def test_sample_decode_runs_at_a_few_frames_a_second() -> None:
    spec = fa.DecodeSpec(rate=NTSC_FILM, duration=30, width=360, height=640)
    args = fa.sample_args(Path("ref.mov"), spec, fps=2)
    assert args[args.index("-filter_complex") + 1] == (
        "[0:v:0]fps=fps=2/1[s0];[s0]crop=h=640:w=360:x=0:y=0[s1]"
    )
    assert args[args.index("-t") + 1] == "30.000000"
    # Frames nothing refers to are skipped by the decoder (an input option, before -i).
    assert args[args.index("-skip_frame") + 1] == "noref"
    assert args.index("-skip_frame") < args.index("-i")


def _encode_spec(**changes: object) -> fa.EncodeSpec:
    base = fa.EncodeSpec(
        width=640,
        height=360,
        rate=NTSC_FILM,
        frames=120,
        audio_source=Path("ref.mp4"),
        audio_codec="aac",
        audio_duration=19.69,
    )
    return fa.EncodeSpec(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def _encoder_options(preset: str = "veryfast", crf: str = "18") -> list[str]:
    return [
        *("-color_primaries", "bt709", "-color_range", "tv"),
        *("-color_trc", "bt709", "-colorspace", "bt709"),
        "-crf",
        crf,
        "-map_chapters",
        "-1",
        "-map_metadata",
        "-1",
        "-metadata",
        f"comment={fa.AI_COMMENT}",
        "-metadata:g",
        "ai_generated=facedub",
        "-movflags",
        "+faststart+use_metadata_tags",
        "-pix_fmt",
        "yuv420p",
        "-preset",
        preset,
        "-r",
        "24000/1001",
        "-t",
        "5.005000",
        "-vcodec",
        "libx264",
    ]


RAW_INPUT = [
    "-f",
    "rawvideo",
    "-framerate",
    "24000/1001",
    "-pix_fmt",
    "rgb24",
    "-s",
    "640x360",
    "-i",
    "pipe:",
]
TO_YUV = "[0]scale=out_color_matrix=bt709:out_range=tv[s0];[s0]format=yuv420p[s1]"


def test_encode_copies_aac_audio_that_covers_the_video() -> None:
    spec = _encode_spec()
    assert spec.copy_audio
    assert fa.encode_args(Path("out/output.mp4"), spec) == [
        "ffmpeg",
        *RAW_INPUT,
        "-i",
        "ref.mp4",
        "-filter_complex",
        TO_YUV,
        "-map",
        "[s1]",
        "-map",
        "1:a:0",
        "-acodec",
        "copy",
        *_encoder_options(),
        "out/output.mp4",
        *QUIET,
        "-y",
    ]


@pytest.mark.parametrize(
    ("codec", "audio_duration"),
    [("opus", 19.69), ("pcm_s16le", 19.69), ("aac", 3.0), ("aac", None)],
)
def test_encode_pads_and_reencodes_audio_otherwise(
    codec: str, audio_duration: float | None
) -> None:
    spec = _encode_spec(audio_codec=codec, audio_duration=audio_duration, preset="slow", crf=23)
    assert not spec.copy_audio
    assert fa.encode_args(Path("o.mp4"), spec) == [
        "ffmpeg",
        *RAW_INPUT,
        "-i",
        "ref.mp4",
        "-filter_complex",
        TO_YUV + ";[1:a:0]apad[s2]",
        "-map",
        "[s1]",
        "-map",
        "[s2]",
        "-b:a",
        "192k",
        "-acodec",
        "aac",
        *_encoder_options(preset="slow", crf="23"),
        "o.mp4",
        *QUIET,
        "-y",
    ]


def test_encode_fills_silence_before_sound_that_starts_late() -> None:
    # face_noface.mov's sound starts 2.43 s after its picture: copied, or only padded at
    # the end, a 2 s output would have no sound; it is re-encoded from silence at 0.
    spec = _encode_spec(audio_start=2.43)
    assert spec.late_audio and not spec.copy_audio
    args = fa.encode_args(Path("o.mp4"), spec)
    graph = args[args.index("-filter_complex") + 1]
    assert graph == TO_YUV + ";[1:a:0]aresample=async=1:first_pts=0[s2];[s2]apad[s3]"
    assert args[args.index("-acodec") + 1] == "aac"
    # Under half a frame late is on time: copied as before.
    on_time = _encode_spec(audio_start=0.4 / float(NTSC_FILM))
    assert not on_time.late_audio and on_time.copy_audio


def test_encode_without_reference_audio_has_no_audio_input() -> None:
    spec = _encode_spec(audio_source=None, audio_codec=None, audio_duration=None)
    assert fa.encode_args(Path("o.mp4"), spec) == [
        "ffmpeg",
        *RAW_INPUT,
        *("-filter_complex", TO_YUV, "-map", "[s1]"),
        *_encoder_options(),
        "o.mp4",
        *QUIET,
        "-y",
    ]


def test_exact_duration_is_frames_over_rate() -> None:
    assert _encode_spec(frames=120).duration == pytest.approx(5.005)
    assert _encode_spec(frames=60, rate=Fraction(30)).duration == 2.0


def test_bare_transcode_uses_the_same_encoder_settings() -> None:
    spec = _encode_spec(frames=240, preset="veryfast", crf=18)
    assert fa.bare_transcode_args(Path("in.mp4"), Path("base.mp4"), spec) == [
        "ffmpeg",
        "-i",
        "in.mp4",
        "-map",
        "0:v:0",
        "-an",
        "-crf",
        "18",
        "-pix_fmt",
        "yuv420p",
        "-preset",
        "veryfast",
        "-t",
        "10.010000",
        "-vcodec",
        "libx264",
        "base.mp4",
        *QUIET,
        "-y",
    ]


@pytest.mark.parametrize(("value", "expected"), [(641, 640), (360, 360), (1, 2), (3, 2)])
def test_even_rounds_down_to_an_even_size(value: int, expected: int) -> None:
    assert fa.even(value) == expected
