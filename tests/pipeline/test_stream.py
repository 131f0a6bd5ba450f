"""The overlapped decode -> process -> encode loop on real ffmpeg processes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from facedubd.errors import PipelineError
from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline.media import FrameReader, FrameWriter, probe
from facedubd.pipeline.stream import run_frames
from tests.pipeline import clips


def _reader_writer(tmp_path: Path, seconds: float) -> tuple[FrameReader, FrameWriter, Path]:
    source = clips.two_tone(tmp_path / "in.mp4", seconds=seconds)
    info = probe(source)
    frames = round(seconds * 25)
    reader = FrameReader(fa.decode_args(source, info.decode_spec(seconds)), 320, 240)
    out = tmp_path / "out.mp4"
    spec = fa.EncodeSpec(
        320,
        240,
        info.rate,
        frames,
        audio_source=source,
        audio_codec="aac",
        audio_duration=info.audio_duration,
    )
    return reader, FrameWriter(fa.encode_args(out, spec), spec.width, spec.height), out


def test_every_frame_is_processed_in_order_and_encoded(tmp_path: Path) -> None:
    reader, writer, out = _reader_writer(tmp_path, 1.0)
    seen: list[int] = []

    def red_share(frame: np.ndarray) -> float:
        return float((frame[..., 0] > 128).mean())

    def invert(frame: np.ndarray, share: float) -> tuple[np.ndarray, bool]:
        assert share == red_share(frame)  # each frame arrives with its own analysis
        return 255 - frame, len(seen) % 2 == 0

    stats = run_frames(reader, writer, invert, on_frame=seen.append, analyse=red_share)
    assert stats.frames == 25 and seen == list(range(1, 26))
    assert stats.frames_with_face == 13
    info = probe(out)
    with FrameReader(fa.decode_args(out, info.decode_spec(1)), 320, 240) as check:
        first = next(iter(check))
    # Inverted: the top half (red in the source) is now cyan, the bottom (blue) yellow.
    top, bottom = first[:100].mean(axis=(0, 1)), first[140:].mean(axis=(0, 1))
    assert top[0] < 30 and top[1] > 220 and top[2] > 220
    assert bottom[0] > 220 and bottom[1] > 220 and bottom[2] < 30
    assert clips.stream_info(out)["streams.stream.0.nb_frames"] == "25"


def test_a_failing_step_stops_both_threads(tmp_path: Path) -> None:
    before = threading.active_count()
    reader, writer, _ = _reader_writer(tmp_path, 2.0)

    def explode(frame: np.ndarray, analysis: object) -> tuple[np.ndarray, bool]:
        raise PipelineError("The face could not be moved.")

    with pytest.raises(PipelineError, match="could not be moved"):
        run_frames(reader, writer, explode)
    assert threading.active_count() == before
    assert writer.frames == 0


def test_wrong_frame_size_from_the_step_is_an_encoder_error(tmp_path: Path) -> None:
    reader, writer, _ = _reader_writer(tmp_path, 1.0)

    def crop(frame: np.ndarray, analysis: object) -> tuple[np.ndarray, bool]:
        return frame[:100, :100], False

    with pytest.raises(PipelineError):
        run_frames(reader, writer, crop)
