"""The whole job: astronaut.png onto WolfgangLanger_Pexels.mp4.

Per case: whole-run fps (frames / wall time of the run, model loading and checks
included), generating fps (frames / the generating_video stage), ms per frame per step,
peak RSS of the run's process, and the ratio of the video stages (generating_video +
encoding) to a bare ffmpeg decode + encode of the same clip with the same encoder
settings, timed in the same run (the median of one run before and two after). Cases:
640x360 for 10 s; the same scaled and centre-cropped to 720x1280; and the clip looped to
30 s with -stream_loop, whose peak RSS is compared with a 5 s run. Quick mode: one 2 s
pass at 640x360."""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline.media import probe
from facedubd.samples import sample_path

PHOTO = "astronaut.png"
VIDEO = "WolfgangLanger_Pexels.mp4"
OUT = Path(__file__).parent / "out"
#: The frame loop's threads: waiting for a tracked frame, tracking (its own thread),
#: dubbing (the main thread), writing to the encoder (its own thread).
STEPS = ("frame_wait_ms", "frame_analyse_ms", "frame_process_ms", "frame_encode_write_ms")
STEP_LABELS = ("wait for a tracked frame", "track", "dub", "encoder write")


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    clip: Path
    seconds: int

    @property
    def folder(self) -> Path:
        slug = "".join(c if c.isalnum() else "_" for c in self.name).strip("_")
        return OUT / "runs" / slug


@dataclasses.dataclass(frozen=True)
class Measured:
    case: Case
    frames: int
    wall_s: float
    generate_s: float
    video_s: float
    baseline_s: float
    peak_rss_mib: float
    steps: dict[str, float]
    provider: str


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def portrait_clip(source: Path, target: Path) -> Path:
    """The first 10 s scaled to 1280 high and centre-cropped to 720x1280 (a phone clip)."""
    if not target.exists():
        _ffmpeg(
            *("-i", str(source), "-t", "10", "-vf", "scale=-2:1280,crop=720:1280"),
            *("-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "copy"),
            str(target),
        )
    return target


def looped_clip(source: Path, target: Path) -> Path:
    """The clip played twice with -stream_loop and cut at 30 s."""
    if not target.exists():
        _ffmpeg(
            *("-stream_loop", "1", "-i", str(source), "-t", "30"),
            *("-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "aac"),
            str(target),
        )
    return target


def baseline_s(clip: Path, seconds: int) -> float:
    """Wall time of a bare ffmpeg decode + encode with the pipeline's encoder settings."""
    info = probe(clip)
    frames = round(seconds * float(info.rate))
    spec = fa.EncodeSpec(info.width, info.height, Fraction(info.rate), frames)
    started = time.perf_counter()
    subprocess.run(fa.bare_transcode_args(clip, OUT / "baseline.mp4", spec), check=True)
    return time.perf_counter() - started


def run_child(clip: Path, seconds: int, out_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench._pipeline_child"]
    args = [str(sample_path(PHOTO)), str(clip), str(out_dir), str(seconds)]
    done = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pipeline run failed: {done.stderr.strip()[-2000:]}")
    body: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return body


def measure(case: Case, baseline_runs: int) -> Measured:
    """The pipeline run with bare-ffmpeg runs before and after it; the baseline is their
    median, so one busy moment on a shared machine does not make the ratio."""
    bases = [baseline_s(case.clip, case.seconds)]
    body = run_child(case.clip, case.seconds, case.folder)
    bases += [baseline_s(case.clip, case.seconds) for _ in range(baseline_runs - 1)]
    base = statistics.median(bases)
    result = body["result"]
    timings = result["timings_ms"]
    return Measured(
        case=case,
        frames=result["frames"],
        wall_s=body["wall_s"],
        generate_s=timings["generating_video"] / 1000,
        video_s=(timings["generating_video"] + timings["encoding"]) / 1000,
        baseline_s=base,
        peak_rss_mib=body["peak_rss_kib"] / 1024,
        steps={step: timings.get(step, 0.0) for step in STEPS},
        provider=result["provider"],
    )


def table(rows: list[Measured]) -> str:
    head = (
        "| case | frames | whole-run fps | generating fps | video stages s | bare ffmpeg s "
        "| ratio | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for m in rows:
        lines.append(
            f"| {m.case.name} | {m.frames} | {m.frames / m.wall_s:.1f} | "
            f"{m.frames / m.generate_s:.1f} | {m.video_s:.2f} | {m.baseline_s:.2f} | "
            f"{m.video_s / m.baseline_s:.2f} | {m.peak_rss_mib:.0f} |"
        )
    lines += ["", "ms per frame in each thread of the frame loop:", ""]
    lines.append("| case | " + " | ".join(STEP_LABELS) + " |")
    lines.append("|---|" + "---:|" * len(STEPS))
    for m in rows:
        cells = " | ".join(f"{m.steps[s]:.2f}" for s in STEPS)
        lines.append(f"| {m.case.name} | {cells} |")
    return "\n".join(lines)


def cases(quick: bool) -> list[Case]:
    source = sample_path(VIDEO)
    if quick:
        return [Case("640x360, 2 s (quick)", source, 2)]
    return [
        Case("640x360, 10 s", source, 10),
        Case("720x1280, 10 s", portrait_clip(source, OUT / "portrait_720x1280.mp4"), 10),
        Case("640x360, 5 s", source, 5),
        Case("640x360 looped, 30 s", looped_clip(source, OUT / "looped_30s.mp4"), 30),
    ]


def run(quick: bool) -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = [measure(case, 1 if quick else 3) for case in cases(quick)]
    text = table(rows) + f"\n\nprovider: {rows[0].provider}"
    by_name = {m.case.name: m for m in rows}
    if "640x360 looped, 30 s" in by_name:
        long, short = by_name["640x360 looped, 30 s"], by_name["640x360, 5 s"]
        growth = long.peak_rss_mib / short.peak_rss_mib - 1
        text += f"\npeak RSS 30 s vs 5 s: {growth:+.1%}"
    return text
