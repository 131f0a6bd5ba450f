"""Decode -> process -> encode with the three overlapping: a decode thread and an encode
thread around the caller's processing, joined by small bounded queues, so memory stays a
few frames whatever the clip's length."""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from facedubd.errors import PipelineError
from facedubd.pipeline.media import FrameReader, FrameWriter

#: Frames waiting between two stages; small, so memory does not grow with the clip.
QUEUE_FRAMES = 6
_END = object()
_POLL_S = 0.2

#: analyse(frame) -> what process needs from it (e.g. the tracked face); runs in its own
#: thread, one frame ahead of process, so the two overlap on different cores.
Analyse = Callable[[np.ndarray], Any]
#: process(frame, analysis) -> (frame to write, whether a face was found in it)
Process = Callable[[np.ndarray, Any], tuple[np.ndarray, bool]]
Progress = Callable[[int], None]


@dataclasses.dataclass
class FrameStats:
    """What went through, and where the time went (ms summed over frames)."""

    frames: int = 0
    frames_with_face: int = 0
    wall_s: float = 0.0
    decode_wait_ms: float = 0.0
    analyse_ms: float = 0.0
    process_ms: float = 0.0
    encode_ms: float = 0.0

    def per_frame(self) -> dict[str, float]:
        count = max(1, self.frames)
        return {
            "frame_wait_ms": self.decode_wait_ms / count,
            "frame_analyse_ms": self.analyse_ms / count,
            "frame_process_ms": self.process_ms / count,
            "frame_encode_write_ms": self.encode_ms / count,
        }


class _Stop(Exception):
    """The other side failed or was cancelled: stop this thread quietly."""


def _put(target: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop()
        try:
            target.put(item, timeout=_POLL_S)
            return
        except queue.Full:
            continue


def _get(source: queue.Queue[Any], stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stop()
        try:
            return source.get(timeout=_POLL_S)
        except queue.Empty:
            continue


class _Worker(threading.Thread):
    """A thread that keeps its exception for the caller to re-raise."""

    def __init__(self, name: str, body: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._body, self._stop_event = body, stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._body()
        except _Stop:
            pass
        except BaseException as exc:  # handed to the main thread, which re-raises it
            self.error = exc
            self._stop_event.set()


def run_frames(
    reader: FrameReader,
    writer: FrameWriter,
    process: Process,
    on_frame: Progress | None = None,
    analyse: Analyse | None = None,
) -> FrameStats:
    """Every frame of `reader` through `analyse` (if given) and `process` into `writer`,
    in order. The writer is closed (file finished) on success and aborted on any failure.
    Decode, analyse, process and encode each run on their own thread."""
    stats = FrameStats()
    stop = threading.Event()
    decoded: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
    analysed: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
    processed: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)

    def decode() -> None:
        with reader:
            for frame in reader:
                _put(decoded, frame, stop)
        _put(decoded, _END, stop)

    def analyse_all() -> None:
        while (frame := _get(decoded, stop)) is not _END:
            started = time.perf_counter()
            result = analyse(frame) if analyse is not None else None
            stats.analyse_ms += (time.perf_counter() - started) * 1000
            _put(analysed, (frame, result), stop)
        _put(analysed, _END, stop)

    def encode() -> None:
        while (frame := _get(processed, stop)) is not _END:
            started = time.perf_counter()
            writer.write(frame)
            stats.encode_ms += (time.perf_counter() - started) * 1000

    threads = [
        _Worker("decode", decode, stop),
        _Worker("encode", encode, stop),
        _Worker("analyse", analyse_all, stop),
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        _process_all(analysed, processed, process, stop, stats, on_frame)
        _put(processed, _END, stop)
        threads[1].join()
    except BaseException:
        stop.set()
        _join(threads)
        writer.abort()
        _raise_thread_error(threads)
        raise
    _join(threads)
    _raise_thread_error(threads, writer)
    writer.close()
    stats.wall_s = time.perf_counter() - started
    return stats


def _process_all(
    analysed: queue.Queue[Any],
    processed: queue.Queue[Any],
    process: Process,
    stop: threading.Event,
    stats: FrameStats,
    on_frame: Progress | None,
) -> None:
    while True:
        waited = time.perf_counter()
        item = _get(analysed, stop)
        stats.decode_wait_ms += (time.perf_counter() - waited) * 1000
        if item is _END:
            return
        frame, analysis = item
        started = time.perf_counter()
        out, has_face = process(frame, analysis)
        stats.process_ms += (time.perf_counter() - started) * 1000
        stats.frames += 1
        stats.frames_with_face += int(has_face)
        _put(processed, out, stop)
        if on_frame is not None:
            on_frame(stats.frames)


def _join(threads: list[_Worker]) -> None:
    for thread in threads:
        thread.join(timeout=30)


def _raise_thread_error(threads: list[_Worker], writer: FrameWriter | None = None) -> None:
    for thread in threads:
        if thread.error is not None:
            if writer is not None:
                writer.abort()
            if isinstance(thread.error, PipelineError):
                raise thread.error
            raise PipelineError() from thread.error
