"""Read photos and video frames as RGB uint8 arrays (small helpers for analysis, tests
and benchmarks; the video pipeline has its own streamed decoder)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from facedubd.errors import UnreadableVideo


def to_rgb(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) RGB uint8 image from grey (H, W), (H, W, 1), RGB or RGBA input.

    Alpha is composited over black, so fully transparent pixels carry no stray colour."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        return (image[:, :, :3].astype(np.float32) * alpha + 0.5).astype(np.uint8)
    return image


def load_rgb(path: Path) -> np.ndarray:
    """Decode an image file (any bit depth, grey, alpha) into RGB uint8."""
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot decode {path.name} as an image")
    if image.dtype == np.uint16:
        image = (image / 257).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    elif image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return to_rgb(image)


def video_size(path: Path) -> tuple[int, int]:
    """(width, height) of the first video stream, as ffprobe reports it."""
    done = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0",
            "-show_entries", "stream=width,height", "-of", "json", str(path),
        ],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    streams = json.loads(done.stdout or "{}").get("streams") if done.returncode == 0 else None
    if not streams:
        raise UnreadableVideo(f"{path.name} has no video stream ffprobe can read")
    return int(streams[0]["width"]), int(streams[0]["height"])


def decode_args(path: Path, max_frames: int | None = None, start_s: float = 0.0) -> list[str]:
    """ffmpeg arguments that write the video's frames to stdout as raw RGB24."""
    args = ["ffmpeg", "-v", "error", "-nostdin"]
    if start_s > 0:
        args += ["-ss", f"{start_s:.3f}"]
    args += ["-i", str(path), "-map", "0:v:0", "-an", "-sn"]
    if max_frames is not None:
        args += ["-frames:v", str(max_frames)]
    return [*args, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]


def iter_video_frames(
    path: Path, max_frames: int | None = None, start_s: float = 0.0
) -> Iterator[np.ndarray]:
    """Yield the video's frames in order as (H, W, 3) RGB uint8 arrays.

    Stopping early is fine (ffmpeg is stopped quietly); a decode that fails before the
    end raises UnreadableVideo with ffmpeg's last message."""
    width, height = video_size(path)
    frame_bytes = width * height * 3
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            decode_args(path, max_frames, start_s), stdout=subprocess.PIPE, stderr=errors
        )
        assert process.stdout is not None
        finished = False
        try:
            while True:
                chunk = process.stdout.read(frame_bytes)
                if len(chunk) < frame_bytes:
                    finished = True
                    break
                yield np.frombuffer(chunk, dtype=np.uint8).reshape(height, width, 3)
        finally:
            process.stdout.close()
            if not finished:
                process.kill()
            returncode = process.wait()
        if finished and returncode != 0:
            errors.seek(0)
            last = errors.read().decode(errors="replace").strip().splitlines()[-1:]
            raise UnreadableVideo(f"ffmpeg could not decode {path.name}: {' '.join(last)}")
