"""Reference videos as users send them, made from the real clip inside each test: one
property per test, asserting the value (picture, rate, sync offset, code and sentence)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from facedubd.errors import InputError, UnreadableVideo, UnsupportedCodec, VideoTooShort
from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline import inputs
from facedubd.pipeline.face import FaceModels, load_face_models
from facedubd.pipeline.media import probe
from tests.pipeline import variants as v
from tests.pipeline.clips import ffmpeg

Sample = Callable[[str], Path]


@pytest.fixture(scope="module")
def models() -> Iterator[FaceModels]:
    yield load_face_models("cpu", 1)


@pytest.fixture(scope="module")
def upright(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """The real clip at 320x180, 1 s, and its first decoded frame."""
    path = v.small(sample(v.SOURCE), tmp_path_factory.mktemp("up") / "up.mp4", seconds=1.0)
    return path, v.decode(path, 0.1)[0]


def refused(exc: InputError, code: str) -> str:
    assert exc.code == code and exc.http_status == 400
    assert "/" not in exc.message and exc.message.endswith(".")
    return exc.message


# --- rotation ---------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_display_matrix_rotation_is_applied_as_a_player_does(
    tmp_path: Path, models: FaceModels, upright: tuple[Path, np.ndarray], degrees: int
) -> None:
    source, reference = upright
    rotated = tmp_path / "phone.mp4"
    ffmpeg("-i", str(source), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", str(rotated))
    matrix = v.stream(rotated, "video")
    assert matrix is not None
    # ffprobe's display-matrix angle is counter-clockwise; players turn the picture by it.
    ccw = round(float(matrix["side_data_list"][0]["rotation"])) % 360
    check = inputs.check_video(rotated, 1, models)
    frame = v.decode(rotated, 0.1)[0]
    expected = np.rot90(reference, k=ccw // 90)
    assert frame.shape == expected.shape == (check.info.height, check.info.width, 3)
    assert np.abs(frame.astype(int) - expected).mean() < 2


@pytest.mark.parametrize("degrees", [90, 270])
def test_legacy_rotate_tag_without_a_matrix_is_applied_clockwise(
    tmp_path: Path, models: FaceModels, upright: tuple[Path, np.ndarray], degrees: int
) -> None:
    source, reference = upright
    tagged = tmp_path / "old.mkv"  # Matroska keeps a ROTATE tag; ffmpeg itself ignores it
    ffmpeg("-i", str(source), "-c", "copy", "-metadata:s:v:0", f"ROTATE={degrees}", str(tagged))
    video = v.stream(tagged, "video")
    assert video is not None and not video.get("side_data_list")
    check = inputs.check_video(tagged, 1, models)
    assert check.info.turn == degrees
    frame = v.decode(tagged, 0.1)[0]
    expected = np.rot90(reference, k=-degrees // 90)  # the tag counts clockwise
    assert frame.shape == expected.shape
    assert np.abs(frame.astype(int) - expected).mean() < 2


# --- frame rates and sync ---------------------------------------------------------------

RATES = ["24000/1001", "25", "30000/1001", "60000/1001", "60"]


def _sync_offset(path: Path) -> float:
    """Seconds between the flash's first frame and the beep's first sample (+: sound late)."""
    frames = v.decode(path)
    rate = probe(path).rate
    return v.first_loud_time(v.audio_samples(path)) - float(v.first_bright_frame(frames) / rate)


def _assert_synced(source: Path, out: Path, rate: Fraction) -> None:
    frame = float(1 / rate)
    video, audio = v.stream(out, "video"), v.stream(out, "audio")
    assert video is not None and audio is not None
    assert Fraction(video["r_frame_rate"]) == Fraction(video["avg_frame_rate"]) == rate
    assert abs(float(video["duration"]) - float(audio["duration"])) <= frame
    before, after = _sync_offset(source), _sync_offset(out)
    assert abs(after - before) <= frame, (before, after)
    assert abs(after) <= frame + 0.015  # the AAC encoder's own delay is ~10 ms


@pytest.mark.parametrize("rate", RATES)
def test_frame_rate_is_kept_constant_and_in_sync(tmp_path: Path, sample: Sample, rate: str) -> None:
    source = v.flash_and_beep(sample(v.SOURCE), tmp_path / "in.mp4", 0.8, rate)
    out = v.passthrough(source, tmp_path / "out.mp4", 1.5)
    _assert_synced(source, out, Fraction(rate))


def test_variable_frame_rate_becomes_constant_and_stays_in_sync(
    tmp_path: Path, sample: Sample
) -> None:
    marked = v.flash_and_beep(sample(v.SOURCE), tmp_path / "cfr.mp4", 0.8, "30")
    vfr = tmp_path / "vfr.mp4"  # frames 5-20 dropped, the others keep their timestamps
    ffmpeg(
        *("-i", str(marked), "-vf", "select='not(between(n,5,20))'", "-fps_mode", "vfr"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "copy", str(vfr)),
    )
    video = v.stream(vfr, "video")
    assert video is not None and Fraction(video["avg_frame_rate"]) < 25
    info = probe(vfr)
    assert info.rate == 30
    out = v.passthrough(vfr, tmp_path / "out.mp4", 1.5)
    _assert_synced(vfr, out, Fraction(30))


# --- audio ------------------------------------------------------------------------------


def test_no_audio_track_gives_an_output_without_audio(tmp_path: Path, sample: Sample) -> None:
    silent = v.small(sample(v.SOURCE), tmp_path / "mute.mp4", "-an", seconds=1.0)
    assert not probe(silent).has_audio
    out = v.passthrough(silent, tmp_path / "out.mp4", 1.0)
    assert v.stream(out, "audio") is None
    video = v.stream(out, "video")
    assert video is not None and int(video["nb_frames"]) == 30


def test_short_audio_is_padded_with_silence(tmp_path: Path, sample: Sample) -> None:
    source = v.small(sample(v.SOURCE), tmp_path / "short.mp4", "-af", "atrim=0:0.6", seconds=1.5)
    info = probe(source)
    assert info.audio_duration is not None and info.audio_duration < 0.7
    out = v.passthrough(source, tmp_path / "out.mp4", 1.5)
    audio = v.stream(out, "audio")
    assert audio is not None and abs(float(audio["duration"]) - 1.5) <= 1 / 30
    samples = v.audio_samples(out)
    assert np.abs(samples[: int(0.6 * 48000)]).max() > 0.01  # the speech is there
    assert np.abs(samples[int(0.75 * 48000) :]).max() < 1e-4  # then silence


# --- not a video ------------------------------------------------------------------------


def test_audio_only_file_is_refused_saying_so(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    path = tmp_path / "voice.mp4"
    ffmpeg("-i", str(sample(v.SOURCE)), "-vn", "-t", "1", "-c:a", "aac", str(path))
    with pytest.raises(UnreadableVideo) as caught:
        inputs.check_video(path, 1, models)
    assert "no picture in it (audio only" in refused(caught.value, "unreadable_video")


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "astronaut.png"])
def test_still_image_sent_as_the_video_is_refused_saying_so(
    tmp_path: Path, sample: Sample, models: FaceModels, name: str
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(sample(name).read_bytes())
    with pytest.raises(UnreadableVideo) as caught:
        inputs.check_video(path, 1, models)
    assert "is a still image, not a video" in refused(caught.value, "unreadable_video")


# --- odd sizes and non-square pixels -----------------------------------------------------


def test_odd_size_loses_its_last_row_and_column(tmp_path: Path, sample: Sample) -> None:
    odd = v.small(sample(v.SOURCE), tmp_path / "odd.mkv", "-c:v", "libx264rgb", vf="crop=319:179")
    info = probe(odd)
    assert (info.width, info.height) == (318, 178)
    out = v.passthrough(odd, tmp_path / "out.mp4", 1.0)
    video = v.stream(out, "video")
    assert video is not None and (video["width"], video["height"]) == (318, 178)
    full = v.decode(odd, 0.1)[0]
    assert full.shape == (178, 318, 3)


def test_non_square_pixels_are_stretched_to_the_display_width(
    tmp_path: Path, upright: tuple[Path, np.ndarray]
) -> None:
    source, reference = upright  # 320x180 square pixels
    squeezed = tmp_path / "anamorphic.mp4"  # stored 240x180, each pixel 4/3 wide
    ffmpeg("-i", str(source), "-vf", "scale=240:180,setsar=4/3", "-c:v", "libx264", str(squeezed))
    frame = v.decode(squeezed, 0.1)[0]
    assert frame.shape == reference.shape
    assert v.psnr(frame, reference) > 28


def test_rotated_non_square_pixels_keep_their_shape(
    tmp_path: Path, upright: tuple[Path, np.ndarray]
) -> None:
    source, reference = upright
    squeezed = tmp_path / "anamorphic.mp4"
    ffmpeg("-i", str(source), "-vf", "scale=240:180,setsar=4/3", "-c:v", "libx264", str(squeezed))
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-i", str(squeezed), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    info = probe(rotated)
    assert (info.width, info.height) == (180, 320)
    frame = v.decode(rotated, 0.1)[0]
    assert v.psnr(frame, np.rot90(reference)) > 28


# --- length -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "phrase"),
    [(("-t", "0.5"), "0.5 s long"), (("-frames:v", "1"), "0.03 s long")],
    ids=["half_second", "one_frame"],
)
def test_too_short_states_the_clips_length(
    tmp_path: Path, sample: Sample, models: FaceModels, args: tuple[str, str], phrase: str
) -> None:
    path = tmp_path / "short.mp4"
    ffmpeg("-i", str(sample(v.SOURCE)), *args, "-an", "-vf", "scale=320:-2", str(path))
    with pytest.raises(VideoTooShort) as caught:
        inputs.check_video(path, 1, models)
    message = refused(caught.value, "video_too_short")
    assert phrase in message and "shorter than the 1 s duration asked for" in message


# --- judged by content ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("made_as", "named"), [("mkv", "mp4"), ("mp4", "mov"), ("webm", "mp4"), ("mov", "avi")]
)
def test_container_is_judged_by_content_not_extension(
    tmp_path: Path, sample: Sample, models: FaceModels, made_as: str, named: str
) -> None:
    codec = ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus")
    made = v.small(
        sample(v.SOURCE), tmp_path / f"clip.{made_as}", *(codec if made_as == "webm" else ())
    )
    renamed = made.rename(tmp_path / f"clip_really_{made_as}.{named}")
    check = inputs.check_video(renamed, 1, models)
    assert check.info.codec == ("vp9" if made_as == "webm" else "h264")
    assert len(v.decode(renamed, 1.0)) == 30


def test_index_at_the_end_of_the_file_is_fine(sample: Sample, models: FaceModels) -> None:
    data = sample(v.SOURCE).read_bytes()
    assert data.find(b"moov") > data.find(b"mdat") > 0  # the real clip keeps its index last
    check = inputs.check_video(sample(v.SOURCE), 2, models)
    assert check.first_face_s == 0


def test_file_cut_short_with_its_index_first_is_refused(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    whole = tmp_path / "whole.mp4"
    ffmpeg(
        "-i", str(sample(v.SOURCE)), "-t", "2", "-c", "copy", "-movflags", "+faststart", str(whole)
    )
    data = whole.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index promises 2 s; half the frames are gone
    with pytest.raises(UnreadableVideo) as caught:
        inputs.check_video(cut, 2, models)
    message = refused(caught.value, "unreadable_video")
    assert "stops after 0.97 s although the file says it lasts 2.17 s" in message


# --- codecs -----------------------------------------------------------------------------

VP9 = ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M")
AV1 = ("-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "verbosity=0")
HEVC = ("-c:v", "libx265", "-x265-params", "log-level=error")
CODECS = {
    "h264.mp4": ("h264", ()),
    "h264.mov": ("h264", ()),
    "h264.mkv": ("h264", ()),
    "hevc.mp4": ("hevc", (*HEVC, "-tag:v", "hvc1")),
    "hevc.mov": ("hevc", (*HEVC, "-tag:v", "hvc1")),
    "hevc.mkv": ("hevc", HEVC),
    "prores.mov": ("prores", ("-c:v", "prores_ks", "-profile:v", "2", "-c:a", "pcm_s16le")),
    "vp9.webm": ("vp9", (*VP9, "-c:a", "libopus")),
    "vp9.mkv": ("vp9", VP9),
    "av1.mp4": ("av1", AV1),
    "av1.webm": ("av1", (*AV1, "-c:a", "libopus")),
    "av1.mkv": ("av1", AV1),
    "mpeg4.mp4": ("mpeg4", ("-c:v", "mpeg4", "-q:v", "3")),
    "mpeg4.avi": ("mpeg4", ("-c:v", "mpeg4", "-q:v", "3", "-c:a", "libmp3lame")),
}


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codec_in_its_container_is_decoded(
    tmp_path: Path, models: FaceModels, upright: tuple[Path, np.ndarray], name: str
) -> None:
    codec, args = CODECS[name]
    source, reference = upright
    path = tmp_path / name
    ffmpeg("-i", str(source), "-t", "0.5", *args, str(path))
    info = probe(path)
    assert info.codec == codec and (info.width, info.height) == (320, 180)
    inputs.check_decodable(info)
    frames = v.decode(path, 0.5)
    assert len(frames) == 15
    assert v.psnr(frames[0], reference) > 28
    assert inputs.find_faces(models, frames[0])


def test_codec_without_a_decoder_is_refused_naming_it(
    tmp_path: Path, models: FaceModels, upright: tuple[Path, np.ndarray]
) -> None:
    source, _ = upright
    mov = tmp_path / "h264.mov"
    ffmpeg("-i", str(source), "-c", "copy", str(mov))
    data = mov.read_bytes()
    assert data.count(b"avc1") == 1
    vvc = tmp_path / "h266.mov"  # the sample entry says H.266, which this ffmpeg cannot decode
    vvc.write_bytes(data.replace(b"avc1", b"vvc1"))
    with pytest.raises(UnsupportedCodec) as caught:
        inputs.check_video(vvc, 1, models)
    assert "uses the H.266 (VVC) codec" in refused(caught.value, "unsupported_codec")


DECODERS = """Decoders:
 V..... = Video
 ------
 VFS..D h264                 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10
 V..... libdav1d             dav1d AV1 decoder by VideoLAN (codec av1)
 A....D aac                  AAC (Advanced Audio Coding)
"""


def test_decoder_list_is_parsed_by_codec() -> None:
    assert inputs.parse_decoders(DECODERS) == {"h264", "libdav1d", "av1"}


def test_a_known_codec_missing_from_the_decoder_list_is_named() -> None:
    info = video_info_with_codec("hevc", "hvc1")
    with pytest.raises(UnsupportedCodec, match=r"uses the HEVC \(H\.265\) codec"):
        inputs.check_decodable(info, inputs.parse_decoders(DECODERS))
    inputs.check_decodable(video_info_with_codec("av1", ""), inputs.parse_decoders(DECODERS))


def video_info_with_codec(codec: str, tag: str) -> inputs.VideoInfo:
    return inputs.VideoInfo(
        width=320,
        height=180,
        rate=Fraction(30),
        duration=1.0,
        codec=codec,
        rotation=0,
        has_audio=False,
        audio_codec=None,
        audio_duration=None,
        codec_tag=tag,
    )


# --- 10-bit and HDR ---------------------------------------------------------------------

HDR = {
    "pq": ("smpte2084", "-color_trc", "smpte2084"),
    "hlg": ("arib-std-b67", "-color_trc", "arib-std-b67"),
}


@pytest.mark.parametrize("kind", ["pq", "hlg", "bt2020_sdr"])
def test_hdr_and_wide_gamut_are_mapped_to_sdr_bt709(
    tmp_path: Path, upright: tuple[Path, np.ndarray], kind: str
) -> None:
    """The clip turned into 10-bit BT.2020 (PQ or HLG with SDR white at 203 nits, as
    BT.2408 places it, or SDR BT.2020) comes back within 10% of the SDR clip."""
    source, _ = upright
    transfer = HDR[kind][0] if kind in HDR else "bt2020-10"
    path = tmp_path / f"{kind}.mp4"
    ffmpeg(
        *("-i", str(source), "-vf"),
        f"zscale=t={transfer}:m=bt2020nc:p=bt2020:npl=203,format=yuv420p10le",
        *(*HEVC, "-pix_fmt", "yuv420p10le", "-color_trc", transfer),
        *("-color_primaries", "bt2020", "-colorspace", "bt2020nc", str(path)),
    )
    info = probe(path)
    assert info.pix_fmt == "yuv420p10le" and info.hdr == (kind in HDR) and info.wide_gamut
    sdr_luma, sdr_sat = v.luma_and_saturation(v.decode(source, 0.5))
    luma, saturation = v.luma_and_saturation(v.decode(path, 0.5))
    assert abs(luma / sdr_luma - 1) < 0.10, (luma, sdr_luma)
    assert abs(saturation / sdr_sat - 1) < 0.10, (saturation, sdr_sat)


FILTERS = """Filters:
  T.. = Timeline support
 ... fps               V->V       Force constant framerate.
 .SC zscale            V->V       Apply resizing, colorspace and bit depth conversion.
 TSC tonemap           V->V       Conversion to/from different dynamic ranges.
"""


def test_filter_list_is_parsed() -> None:
    assert inputs.parse_filters(FILTERS) == {"fps", "zscale", "tonemap"}


def test_hdr_without_zscale_is_refused_saying_why() -> None:
    hdr = dataclasses.replace(video_info_with_codec("hevc", "hvc1"), hdr=True, wide_gamut=True)
    inputs.check_colour(hdr, inputs.parse_filters(FILTERS))  # zscale there: fine
    with pytest.raises(UnsupportedCodec) as caught:
        inputs.check_colour(hdr, frozenset({"fps", "tonemap"}))
    message = refused(caught.value, "unsupported_codec")
    assert message.startswith("The video is HDR, and this machine's ffmpeg has no zscale")
    sdr = video_info_with_codec("h264", "avc1")
    inputs.check_colour(sdr, frozenset())  # SDR BT.709 needs no zscale


def test_ffmpeg_lists_are_kept_per_binary_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decoder list comes from ffmpeg once, then from the cache file while the binary
    is the same one; another stamp (ffmpeg replaced) asks ffmpeg again."""
    monkeypatch.setenv("FACEDUB_CACHE_DIR", str(tmp_path))
    text = inputs.cached_listing(fa.decoders_args(), "decoders")
    assert "h264" in inputs.parse_decoders(text)
    file = tmp_path / "ffmpeg" / "decoders.json"
    saved = json.loads(file.read_text())
    assert saved["stamp"] == inputs.binary_stamp("ffmpeg") and saved["text"] == text
    assert file.stat().st_mode & 0o777 == 0o600
    # What the cache says is what is used while the stamp matches ...
    file.write_text(json.dumps({"stamp": saved["stamp"], "text": " V....D h264x  H.264\n"}))
    assert inputs.parse_decoders(inputs.cached_listing(fa.decoders_args(), "decoders")) == {"h264x"}
    # ... and a stale stamp (or a damaged file) sends the question to ffmpeg again.
    file.write_text(json.dumps({"stamp": "elsewhere:1:2", "text": ""}))
    assert inputs.cached_listing(fa.decoders_args(), "decoders") == text
    file.write_text("{not json")
    assert inputs.cached_listing(fa.decoders_args(), "decoders") == text


def test_a_started_probe_left_unread_stops_its_decoder(sample: Callable[[str], Path]) -> None:
    """A job starts the probe and the sampling decode early; when it stops before reading
    them (the photo was refused), leaving the probe stops that ffmpeg."""
    with inputs.VideoProbe(sample("single_face.mp4"), 2) as probed:
        info, reader = probed.result()
        assert info.width > 0 and info.height > 0 and info.duration >= 2
        process = reader._proc
        assert process is not None and process.poll() is None  # decoding, waiting for us
    assert process.poll() is not None  # stopped and reaped
    with pytest.raises(UnreadableVideo), inputs.VideoProbe(Path("/nonexistent.mp4"), 2) as gone:
        gone.result()
