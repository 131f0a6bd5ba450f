"""ffprobe JSON to VideoInfo: rate choice, rotation, display size, refusals (pure)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from facedubd.errors import UnreadableVideo
from facedubd.pipeline.media import choose_rate, stream_rotation, video_info


@pytest.mark.parametrize(
    ("avg", "base", "expected"),
    [
        ("24000/1001", "24000/1001", Fraction(24000, 1001)),
        ("30/1", "30/1", Fraction(30)),
        ("2997/100", "30000/1001", Fraction(30000, 1001)),  # within 0.5%: snapped
        ("150528/6359", "24/1", Fraction(24)),  # VFR 23.67 with a standard base rate
        ("519168/19595", "120/1", Fraction(30000, 1001)),  # VFR 26.5, base 120: next up
        ("20/1", "30/1", Fraction(30)),  # frames dropped from a 30 fps clip
        ("0/0", "25/1", Fraction(25)),  # no average: the base rate
        ("90/1", "90/1", Fraction(90)),  # above every standard rate: kept
    ],
)
def test_choose_rate(avg: str, base: str, expected: Fraction) -> None:
    assert choose_rate({"avg_frame_rate": avg, "r_frame_rate": base}) == expected


def test_no_rate_at_all_is_unreadable() -> None:
    with pytest.raises(UnreadableVideo, match="frames it has per second"):
        choose_rate({"avg_frame_rate": "0/0", "r_frame_rate": "0/0"})


@pytest.mark.parametrize(
    ("stream", "degrees"),
    [
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}, 270),
        ({"side_data_list": [{"rotation": 180}]}, 180),
        ({"tags": {"rotate": "90"}}, 90),
        ({}, 0),
    ],
)
def test_rotation_from_display_matrix_or_tag(stream: dict[str, Any], degrees: int) -> None:
    assert stream_rotation(stream) == degrees


def _probe(**video: Any) -> dict[str, Any]:
    base = {
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1920,
        "height": 1080,
        "avg_frame_rate": "30/1",
        "r_frame_rate": "30/1",
    }
    audio = {"codec_type": "audio", "codec_name": "aac", "duration": "9.98"}
    return {
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "10.0"},
        "streams": [{**base, **video}, audio],
    }


def test_phone_clip_turned_upright() -> None:
    info = video_info(_probe(side_data_list=[{"rotation": -90}]))
    assert (info.width, info.height, info.rotation) == (1080, 1920, 270)
    assert info.has_audio and info.audio_codec == "aac" and info.audio_duration == 9.98
    assert info.frame_count == 300 and info.duration == 10.0


def test_odd_and_anamorphic_sizes() -> None:
    odd = video_info(_probe(width=641, height=361))
    assert (odd.width, odd.height) == (640, 360)
    wide = video_info(_probe(width=720, height=576, sample_aspect_ratio="16:11"))
    assert wide.sample_aspect == Fraction(16, 11)
    assert (wide.width, wide.height) == (1046, 576)  # 720 x 16/11 = 1047.3, made even


def test_hdr_transfer_is_noticed() -> None:
    assert video_info(_probe(color_transfer="smpte2084")).hdr
    assert video_info(_probe(color_transfer="arib-std-b67")).hdr
    assert not video_info(_probe(color_transfer="bt709")).hdr


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"format": {"duration": "3"}, "streams": [{"codec_type": "audio"}]}, "no picture"),
        (
            {
                "format": {"format_name": "image2", "duration": "0.04"},
                "streams": [{"codec_type": "video", "width": 10, "height": 10}],
            },
            "still image",
        ),
        (
            {
                "format": {"format_name": "mov,mp4", "duration": "N/A"},
                "streams": [{"codec_type": "video", "width": 10, "height": 10}],
            },
            "length cannot be read",
        ),
    ],
)
def test_refusals(body: dict[str, Any], words: str) -> None:
    with pytest.raises(UnreadableVideo, match=words):
        video_info(body)


def test_pipe_asks_for_a_frame_within_the_limit_and_never_below_the_default() -> None:
    from facedubd.pipeline.media import DEFAULT_PIPE_BYTES, pipe_bytes

    assert pipe_bytes(640 * 360 * 3, 1 << 20) == 640 * 360 * 3
    assert pipe_bytes(720 * 1280 * 3, 1 << 20) == 1 << 20  # capped by the system's limit
    assert pipe_bytes(32 * 32 * 3, 1 << 20) == DEFAULT_PIPE_BYTES


def test_packet_span_is_the_first_video_streams_own() -> None:
    from facedubd.pipeline.media import video_packet_span

    data: dict[str, Any] = {
        "streams": [{"index": 0, "codec_type": "audio"}, {"index": 1, "codec_type": "video"}],
        "packets": [
            {"stream_index": 0, "pts_time": "9.500000"},  # audio: not the picture
            {"stream_index": 1, "pts_time": "0.083417"},  # decode order: B-frames later
            {"stream_index": 1, "pts_time": "0.000000"},
            {"stream_index": 1, "pts_time": "N/A"},
            {"stream_index": 1, "pts_time": "2.043708"},
            {"stream_index": 1},
        ],
    }
    assert video_packet_span(data) == pytest.approx(2.043708)
    assert video_packet_span({**data, "packets": data["packets"][:1]}) is None
    assert video_packet_span({"streams": [], "packets": data["packets"]}) is None
