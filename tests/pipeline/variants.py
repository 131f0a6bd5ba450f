"""Variants of the real test media made with the real ffmpeg inside the tests (<= 2 s,
<= 640 px), and the measurements the input tests assert on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline.media import FrameReader, FrameWriter, probe
from facedubd.pipeline.orchestrate import encode_spec, expected_frames
from facedubd.pipeline.types import PipelineSettings
from tests.pipeline.clips import ffmpeg

#: The real clip the variants start from (640x360, 30 fps, a man talking to camera).
SOURCE = "single_face.mp4"
#: BT.709 tags written into the H.264 stream, as phones do.
BT709_TAGS = ("-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709")


def small(source: Path, path: Path, *args: str, seconds: float = 1.0, vf: str = "") -> Path:
    """The first `seconds` of `source` at 320 px wide (then `vf`), with `args` for the output
    (codec, container options); H.264 + AAC unless `args` say otherwise."""
    chain = "scale=320:-2" + (f",{vf}" if vf else "")
    codecs = () if "-c:v" in args else ("-c:v", "libx264", "-pix_fmt", "yuv420p", *BT709_TAGS)
    audio = () if ("-c:a" in args or "-an" in args) else ("-c:a", "aac")
    ffmpeg("-i", str(source), "-t", str(seconds), "-vf", chain, *codecs, *audio, *args, str(path))
    return path


def ffprobe_json(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        check=True,
    )
    body: dict[str, Any] = json.loads(done.stdout)
    return body


def stream(path: Path, kind: str) -> dict[str, Any] | None:
    return next((s for s in ffprobe_json(path)["streams"] if s["codec_type"] == kind), None)


def decode(path: Path, seconds: float | None = None) -> np.ndarray:
    """Every frame the pipeline's decoder hands over (upright, CFR, 8-bit RGB)."""
    info = probe(path)
    spec = info.decode_spec(info.duration if seconds is None else seconds)
    with FrameReader(fa.decode_args(path, spec), info.width, info.height) as reader:
        return np.stack(list(reader))


def passthrough(source: Path, out: Path, seconds: float) -> Path:
    """The pipeline's decode and encode with the frames untouched (what a job does to a clip
    without a face): the builders under test, without the per-frame dub."""
    info = probe(source)
    total = expected_frames(info, seconds)
    spec = encode_spec(info, total, PipelineSettings(duration=round(seconds)), source)
    writer = FrameWriter(fa.encode_args(out, spec), spec.width, spec.height)
    with FrameReader(
        fa.decode_args(source, info.decode_spec(seconds)), info.width, info.height
    ) as r:
        for frame in r:
            writer.write(frame)
    writer.close()
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if error == 0 else 10 * np.log10(255**2 / error)


def luma_and_saturation(frames: np.ndarray) -> tuple[float, float]:
    """Mean BT.709 luma (0-1, of the gamma-coded values) and mean HSV saturation."""
    rgb = frames.astype(np.float64) / 255
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722])
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-9), 0.0)
    return float(luma.mean()), float(saturation.mean())


def audio_samples(path: Path, rate: int = 48000) -> np.ndarray:
    """The first audio stream as mono float32 samples at `rate`."""
    done = subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0"),
            *("-ac", "1", "-ar", str(rate), "-f", "f32le", "-"),
        ],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(done.stdout, dtype=np.float32)


def first_loud_time(samples: np.ndarray, rate: int = 48000, level: float = 0.1) -> float:
    loud = np.flatnonzero(np.abs(samples) >= level)
    assert loud.size, "no beep found"
    return float(loud[0] / rate)


def first_bright_frame(frames: np.ndarray, level: float = 235.0) -> int:
    bright = np.flatnonzero(frames.reshape(len(frames), -1).mean(axis=1) >= level)
    assert bright.size, "no flash found"
    return int(bright[0])


def flash_and_beep(source: Path, path: Path, at: float, rate: str, seconds: float = 1.5) -> Path:
    """The real clip at `rate` fps, a white flash from `at` for 0.1 s and a loud 1 kHz beep
    starting at the same instant over its (quietened) sound: a sync marker."""
    graph = (
        f"[0:v]scale=320:-2,fps={rate},"
        f"drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='between(t,{at},{at + 0.1})'[v];"
        f"[0:a]volume=0.05,aresample=48000[quiet];"
        f"sine=frequency=1000:sample_rate=48000:duration={seconds},"
        f"volume=enable='lt(t,{at})':volume=0[beep];"
        "[quiet][beep]amix=inputs=2:duration=first:normalize=0[a]"
    )
    ffmpeg(
        *("-i", str(source), "-t", str(seconds), "-filter_complex", graph),
        *("-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p", *BT709_TAGS),
        *("-r", rate, "-c:a", "aac", "-b:a", "192k", str(path)),
    )
    return path
