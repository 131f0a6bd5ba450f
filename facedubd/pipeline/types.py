"""The pipeline's contract types (DESIGN "Contracts": facedubd.pipeline.run)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

#: A job's stage (the API's `stage` field).
Stage = Literal[
    "queued",
    "preparing",
    "generating_views",
    "extracting_keyframe",
    "compositing_scene",
    "generating_video",
    "encoding",
    "done",
]
#: The stage names, in order; they become the job's `stage` values.
STAGES: tuple[str, ...] = get_args(Stage)

VIEW_NAMES: tuple[str, ...] = ("front", "three_quarter_left", "three_quarter_right", "close_up")

#: on_event(stage, progress) with progress in [0, 1].
EventCallback = Callable[[str, float], None]


#: The duration of a job that names none (POST /jobs without `duration`, `facedubd run`
#: without --duration).
DEFAULT_DURATION_S = 5


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    duration: int = DEFAULT_DURATION_S
    device: str = "auto"
    preset: str = "veryfast"
    crf: int = 18
    threads: int = 1


@dataclasses.dataclass(frozen=True)
class RunResult:
    output: Path
    preview: Path
    views: dict[str, Path]
    frames: int
    frames_with_face: int
    fps: float
    width: int
    height: int
    duration_s: float
    provider: str
    timings_ms: dict[str, float] = dataclasses.field(default_factory=dict)
