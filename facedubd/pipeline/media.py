"""Running ffmpeg and ffprobe: probing, streamed frame reading and writing, output checks.
The command lines come from `ffmpeg_args`; this module only runs them."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import functools
import json
import subprocess
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from facedubd.errors import PipelineError, UnreadableVideo
from facedubd.pipeline import ffmpeg_args as fa

#: Frame rates phones and editors really use; a measured average this close is snapped to one.
STANDARD_RATES = tuple(
    Fraction(n, d)
    for n, d in (
        (24000, 1001),
        (24, 1),
        (25, 1),
        (30000, 1001),
        (30, 1),
        (50, 1),
        (60000, 1001),
        (60, 1),
    )
)
_SNAP_TOLERANCE = 0.005
#: Containers ffprobe reports for single images; they are not videos.
_IMAGE_FORMATS = ("image2", "_pipe", "gif", "webp")


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the pipeline needs to know about a clip. `width` x `height` is the upright display
    size with even dimensions (what the decoder hands over and the encoder writes)."""

    width: int
    height: int
    rate: Fraction
    duration: float
    codec: str
    rotation: int
    has_audio: bool
    audio_codec: str | None
    audio_duration: float | None
    sample_aspect: Fraction = Fraction(1)
    #: Seconds from the picture's start to the sound's (a clip whose sound begins late).
    audio_start: float = 0.0
    hdr: bool = False
    wide_gamut: bool = False
    pix_fmt: str = ""
    #: The container's four-character code for the codec (names codecs ffprobe does not know).
    codec_tag: str = ""
    #: Degrees clockwise the decoder turns the picture itself (a legacy rotate tag).
    turn: int = 0

    @property
    def fps(self) -> float:
        return float(self.rate)

    @property
    def frame_duration(self) -> float:
        return float(1 / self.rate)

    @property
    def frame_count(self) -> int:
        """An estimate: the clip's length times its (constant) output rate."""
        return round(self.duration * self.fps)

    def decode_spec(self, duration: float) -> fa.DecodeSpec:
        return fa.DecodeSpec(
            rate=self.rate,
            duration=duration,
            width=self.width,
            height=self.height,
            sample_aspect=self.sample_aspect,
            hdr=self.hdr,
            wide_gamut=self.wide_gamut,
            turn=self.turn,
        )


def run_probe(path: Path, packet_seconds: float | None = None) -> dict[str, Any]:
    """ffprobe's JSON for `path` (with the packets of the first `packet_seconds`, when
    given); UnreadableVideo when ffprobe cannot read it at all."""
    proc = subprocess.run(fa.probe_args(path, packet_seconds), capture_output=True, check=False)
    if proc.returncode != 0:
        raise UnreadableVideo()
    try:
        data: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise UnreadableVideo() from None
    return data


def parse_rate(text: str | None) -> Fraction | None:
    try:
        rate = Fraction(text or "0/0")
    except (ValueError, ZeroDivisionError):
        return None
    return rate if 0 < rate <= 240 else None


def choose_rate(stream: dict[str, Any]) -> Fraction:
    """The output's constant rate: the average rate when it is a standard one (within 0.5%).
    For a variable frame rate clip: its base rate when that is a standard one, else the next
    standard rate above its average, so no motion is dropped."""
    average = parse_rate(stream.get("avg_frame_rate"))
    base = parse_rate(stream.get("r_frame_rate"))
    rate = average or base
    if rate is None:
        raise UnreadableVideo("The video does not say how many frames it has per second.")
    if (snapped := snap_rate(rate)) is not None:
        return snapped
    if base is not None and base >= rate and base in STANDARD_RATES:
        return base
    above = [standard for standard in STANDARD_RATES if standard >= rate]
    return above[0] if above else rate.limit_denominator(1001)


def snap_rate(rate: Fraction) -> Fraction | None:
    """The standard rate within 0.5% of `rate`, if any."""
    nearest = min(STANDARD_RATES, key=lambda standard: abs(rate - standard))
    return nearest if abs(rate - nearest) / nearest < _SNAP_TOLERANCE else None


def stream_rotation(stream: dict[str, Any]) -> int:
    """Degrees the player turns the picture (display matrix, else the legacy rotate tag)."""
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return round(float(side["rotation"])) % 360
    return legacy_turn(stream)


def legacy_turn(stream: dict[str, Any]) -> int:
    """Degrees clockwise of a `rotate` tag (any case: Matroska stores ROTATE) on a stream
    without a display matrix; 0 when there is a matrix (ffmpeg applies that itself), no
    tag, or a tag that is not a multiple of 90."""
    if any("rotation" in side for side in stream.get("side_data_list") or []):
        return 0
    tags = {str(key).lower(): value for key, value in (stream.get("tags") or {}).items()}
    degrees = _float(tags.get("rotate"))
    if degrees is None or round(degrees) % 90:
        return 0
    return round(degrees) % 360


def _sample_aspect(stream: dict[str, Any]) -> Fraction:
    text = str(stream.get("sample_aspect_ratio") or "1:1").replace(":", "/")
    try:
        sar = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return sar if sar > 0 else Fraction(1)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _first(streams: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((s for s in streams if s.get("codec_type") == kind), None)


def video_info(data: dict[str, Any]) -> VideoInfo:
    """Turn ffprobe's JSON into VideoInfo; UnreadableVideo when it is not a video."""
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    video = _first(streams, "video")
    format_name = str(fmt.get("format_name", ""))
    if video is None:
        raise UnreadableVideo("The video file has no picture in it (audio only, or not a video).")
    if any(part in format_name for part in _IMAGE_FORMATS):
        raise UnreadableVideo("The video file is a still image, not a video.")
    duration = _float(fmt.get("duration"))
    if duration is None or duration <= 0:
        raise UnreadableVideo("The video's length cannot be read: the file may be damaged.")
    rotation = stream_rotation(video)
    sar = _sample_aspect(video)
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise UnreadableVideo("The video's picture size cannot be read: the file may be damaged.")
    width = round(width * sar) if sar != 1 else width
    if rotation % 180 == 90:
        width, height = height, width
    audio = _first(streams, "audio")
    return VideoInfo(
        width=fa.even(width),
        height=fa.even(height),
        rate=choose_rate(video),
        duration=duration,
        codec=str(video.get("codec_name", "unknown")),
        rotation=rotation,
        has_audio=audio is not None,
        audio_codec=str(audio.get("codec_name")) if audio else None,
        audio_duration=_float(audio.get("duration")) if audio else None,
        sample_aspect=sar,
        audio_start=_audio_start(video, audio),
        hdr=video.get("color_transfer") in fa.HDR_TRANSFERS,
        wide_gamut=video.get("color_primaries") in fa.WIDE_PRIMARIES,
        pix_fmt=str(video.get("pix_fmt", "")),
        codec_tag=_codec_tag(video),
        turn=legacy_turn(video),
    )


def _codec_tag(stream: dict[str, Any]) -> str:
    """The fourcc as text ("avc1", "vvc1"), or "" when the container has none."""
    tag = str(stream.get("codec_tag_string") or "")
    return "" if not tag.isprintable() or tag.startswith("[") else tag.strip()


def video_packet_span(data: dict[str, Any]) -> float | None:
    """Seconds between the first and the last timestamp of the first video stream's
    packets in ffprobe's JSON (`run_probe` with `packet_seconds`); None when there are
    none with a timestamp (nothing to judge by)."""
    video = _first(data.get("streams") or [], "video")
    if video is None:
        return None
    index = video.get("index")
    packets = [p for p in data.get("packets") or [] if p.get("stream_index") == index]
    times = [t for p in packets if (t := _float(p.get("pts_time"))) is not None]
    return max(times) - min(times) if times else None


def probe(path: Path) -> VideoInfo:
    """Probe by content (the extension does not matter)."""
    return video_info(run_probe(path))


class _StderrTail:
    """Drains a child's stderr on a thread (so it never blocks) and keeps the last lines."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=20)
        self._thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self._thread.start()

    def _drain(self, pipe: IO[bytes]) -> None:
        with pipe:
            for raw in pipe:
                self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def text(self) -> str:
        self._thread.join(timeout=5)
        return "\n".join(self.lines)


#: Where Linux says how large an unprivileged process may make a pipe's buffer.
_PIPE_MAX_FILE = Path("/proc/sys/fs/pipe-max-size")
#: Linux's default pipe buffer (and the size assumed where it cannot be changed).
DEFAULT_PIPE_BYTES = 65536


@functools.cache
def pipe_max_bytes() -> int:
    """The largest pipe buffer this process may ask for (Linux: 1 MiB by default)."""
    try:
        return max(DEFAULT_PIPE_BYTES, int(_PIPE_MAX_FILE.read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return DEFAULT_PIPE_BYTES


def pipe_bytes(frame_bytes: int, limit: int) -> int:
    """The pipe buffer to ask for: a whole frame where the limit allows, else the limit,
    and never less than the default."""
    return max(DEFAULT_PIPE_BYTES, min(frame_bytes, limit))


def enlarge_pipe(pipe: IO[bytes] | None, frame_bytes: int) -> int:
    """Grow the buffer of the pipe between ffmpeg and us to a frame (or the system's
    limit): with the 64 KiB default, each 640x360 rgb24 frame (675 KiB) passed in a dozen
    pieces, each a wake-up of ffmpeg and of our thread (about 5,000 context switches
    fewer on a 240-frame job). Returns the size the pipe has now (the default where
    the system refuses)."""
    if pipe is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return DEFAULT_PIPE_BYTES
    try:
        return int(
            fcntl.fcntl(
                pipe.fileno(), fcntl.F_SETPIPE_SZ, pipe_bytes(frame_bytes, pipe_max_bytes())
            )
        )
    except OSError:
        return DEFAULT_PIPE_BYTES


class FrameReader:
    """Frames of `width` x `height` rgb24 from an ffmpeg pipe, one at a time: memory does not
    grow with the clip's length."""

    def __init__(self, args: list[str], width: int, height: int) -> None:
        self.args, self.width, self.height = args, width, height
        self.frame_bytes = width * height * 3
        self.pipe_bytes = DEFAULT_PIPE_BYTES
        self.detail = ""
        self._eof = False
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FrameReader:
        self._proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.pipe_bytes = enlarge_pipe(self._proc.stdout, self.frame_bytes)
        assert self._proc.stderr is not None
        self._stderr = _StderrTail(self._proc.stderr)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(check=kind is None)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._proc is None:
            self.__enter__()
        assert self._proc is not None and self._proc.stdout is not None
        while (frame := self._read_frame(self._proc.stdout)) is not None:
            yield frame

    def _read_frame(self, pipe: IO[bytes]) -> np.ndarray | None:
        # Not zeroed (np.empty): the reads fill every byte, or the frame is dropped.
        buffer = np.empty(self.frame_bytes, dtype=np.uint8)
        view = buffer.data
        filled = 0
        while filled < self.frame_bytes:
            got = pipe.readinto(view[filled:])  # type: ignore[attr-defined]
            if not got:
                self._eof = True
                return None
            filled += got
        return buffer.reshape(self.height, self.width, 3)

    def close(self, check: bool = True) -> None:
        """Stop ffmpeg (killed when the caller stopped reading early). With `check`, a decode
        that failed before its end raises PipelineError."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stopped_early = not self._eof
        if stopped_early:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
        code = proc.wait()
        self.detail = self._stderr.text()
        if check and not stopped_early and code != 0:
            raise PipelineError("The video could not be decoded.")


class FrameWriter:
    """Feeds rgb24 frames to an ffmpeg encoder on its stdin."""

    def __init__(self, args: list[str], width: int, height: int) -> None:
        self.args = args
        self.shape = (height, width, 3)
        self.detail = ""
        self.frames = 0
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.pipe_bytes = enlarge_pipe(self._proc.stdin, width * height * 3)
        assert self._proc.stderr is not None
        self._stderr = _StderrTail(self._proc.stderr)

    def write(self, frame: np.ndarray) -> None:
        assert self._proc.stdin is not None
        if frame.shape != self.shape:
            self.abort()
            raise PipelineError("A processed frame came out with the wrong size.")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).data)
        except (BrokenPipeError, OSError):
            self._finish()
            raise PipelineError("The video encoder stopped unexpectedly.") from None
        self.frames += 1

    def _finish(self) -> int:
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._proc.stdin.close()
        code = self._proc.wait()
        self.detail = self._stderr.text()
        return code

    def close(self) -> None:
        """Finish the file; PipelineError when ffmpeg failed."""
        if self._finish() != 0:
            raise PipelineError("The video could not be encoded.")

    def abort(self) -> None:
        """Stop without a usable file (on an error elsewhere)."""
        self._proc.kill()
        self._finish()


def _audio_start(video: dict[str, Any], audio: dict[str, Any] | None) -> float:
    """Seconds the sound starts after the picture (0 when it does not, or is unknown)."""
    if audio is None:
        return 0.0
    picture = _float(video.get("start_time")) or 0.0
    sound = _float(audio.get("start_time"))
    return max(0.0, sound - picture) if sound is not None else 0.0


def verify_output(
    path: Path, frames: int, rate: Fraction, expect_audio: bool, size: tuple[int, int]
) -> dict[str, Any]:
    """Check the encoded file with ffprobe: one H.264 yuv420p stream of the right size, the
    duration of `frames` at `rate` within one frame, audio when the reference had it."""
    data = run_probe(path)
    streams = data.get("streams") or []
    video = _first(streams, "video")
    if video is None or video.get("codec_name") != "h264" or video.get("pix_fmt") != "yuv420p":
        raise PipelineError("The generated video has no H.264 picture.")
    if (int(video.get("width", 0)), int(video.get("height", 0))) != size:
        raise PipelineError("The generated video has the wrong picture size.")
    expected = float(frames / rate)
    frame = float(1 / rate)
    measured = _float((data.get("format") or {}).get("duration")) or 0.0
    # A copied audio track ends on its own packet boundary: allow one audio packet more.
    slack = frame + (0.025 if expect_audio else 0.0)
    if abs(measured - expected) > slack:
        raise PipelineError(
            f"The generated video is {measured:.2f} s long instead of {expected:.2f} s."
        )
    if expect_audio and _first(streams, "audio") is None:
        raise PipelineError("The generated video lost the reference's sound.")
    return data
