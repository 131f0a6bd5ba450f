"""Synthetic clips made with the real ffmpeg, one property each (<= 2 s, <= 640 px)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def two_tone(path: Path, width: int = 320, height: int = 240, seconds: float = 1.0) -> Path:
    """Top half red, bottom half blue, 25 fps, with a 440 Hz tone: orientation is visible."""
    half = height // 2
    graph = (
        f"color=c=red:s={width}x{height}:r=25:d={seconds}[top];"
        f"color=c=blue:s={width}x{height - half}:r=25:d={seconds}[bottom];"
        f"[top][bottom]overlay=0:{half}[v]"
    )
    ffmpeg(
        *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"),
        *(
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            "-map",
            "0:a",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ),
        *("-t", str(seconds), str(path)),
    )
    return path


def with_rotation(source: Path, path: Path, degrees: int) -> Path:
    """The same stream with a rotation tag (stored as a display matrix by the muxer)."""
    ffmpeg("-i", str(source), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", str(path))
    return path


def test_pattern(
    path: Path,
    *,
    size: str = "320x240",
    rate: int | str = 25,
    seconds: float = 2.0,
    audio_seconds: float | None = None,
    extra: tuple[str, ...] = (),
) -> Path:
    """testsrc2, optionally with an aac tone of `audio_seconds`."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio_seconds is not None:
        tone = f"sine=frequency=330:sample_rate=44100:duration={audio_seconds}"
        args += ["-f", "lavfi", "-i", tone, "-c:a", "aac"]
    ffmpeg(*args, "-c:v", "libx264", "-pix_fmt", "yuv420p", *extra, str(path))
    return path


def variable_rate(path: Path) -> Path:
    """30 fps with frames 10-29 dropped and their timestamps kept: a variable frame rate."""
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2"),
        *("-vf", "select='not(between(n,10,29))'", "-fps_mode", "vfr"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)),
    )
    return path


def stream_info(path: Path) -> dict[str, str]:
    """ffprobe's facts about the first video stream, the format and the first audio stream."""
    out = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-show_entries"),
            "stream=codec_type,codec_name,width,height,r_frame_rate,avg_frame_rate,pix_fmt,color_space,"
            "duration,nb_frames:format=duration:format_tags",
            *("-of", "flat", str(path)),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    facts: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        facts[key] = value.strip('"')
    return facts


def mean_colour(frame: np.ndarray) -> tuple[float, float, float]:
    r, g, b = (float(frame[..., c].mean()) for c in range(3))
    return r, g, b
