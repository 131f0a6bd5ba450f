"""The video pipeline: stages and the pure modules they use.

`run(photo, video, out_dir, settings, on_event) -> RunResult` is the entry point (DESIGN
"Contracts"); it lives in `orchestrate` and is imported on first call, so that importing
`facedubd.pipeline.types` stays light."""

from __future__ import annotations

from pathlib import Path

from facedubd.pipeline.types import EventCallback, PipelineSettings, RunResult


def run(
    photo: Path,
    video: Path,
    out_dir: Path,
    settings: PipelineSettings,
    on_event: EventCallback,
) -> RunResult:
    """Make `out_dir/output.mp4` (the reference performed by the photo's character),
    `out_dir/preview.jpg` and `out_dir/views/*.png`, announcing each stage on on_event."""
    from facedubd.pipeline.orchestrate import run as run_pipeline

    return run_pipeline(photo, video, out_dir, settings, on_event)


__all__ = ["PipelineSettings", "RunResult", "run"]
