"""`python -m bench.demo [--quick]`: the main job on real input. The NASA astronaut
portrait performs `WolfgangLanger_Pexels.mp4` for 5 s (2 s with --quick), through
`facedubd.pipeline.run`, into `./out/demo/`; prints where the video and the views are
and a one-line ffprobe summary of the video."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from facedubd.errors import FacedubError
from facedubd.pipeline import run
from facedubd.pipeline.types import PipelineSettings
from facedubd.samples import sample_path

PHOTO = "astronaut.png"
VIDEO = "WolfgangLanger_Pexels.mp4"
OUT_DIR = Path("out") / "demo"


def ffprobe_line(path: Path) -> str:
    """codec, pixel format, size, rate and length of each stream, on one line."""
    entries = "stream=codec_type,codec_name,pix_fmt,width,height,r_frame_rate,duration"
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    streams = [",".join(v for v in line.split(",") if v) for line in done.stdout.splitlines()]
    return " | ".join(streams)


def show_stage(stage: str, progress: float) -> None:
    if progress == 0.0 or stage == "done":
        print(f"  {stage}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s instead of 5 s")
    args = parser.parse_args(argv)
    seconds = 2 if args.quick else 5
    print(f"facedub demo: {PHOTO} performs {VIDEO} for {seconds} s")
    try:
        result = run(
            sample_path(PHOTO),
            sample_path(VIDEO),
            OUT_DIR,
            PipelineSettings(duration=seconds),
            show_stage,
        )
    except FacedubError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(f"video:   {result.output.resolve()}")
    print(f"views:   {result.output.parent.resolve() / 'views'}")
    print(f"preview: {result.preview.resolve()}")
    print(
        f"frames:  {result.frames} ({result.frames_with_face} with a face), "
        f"models on {result.provider}"
    )
    print(f"ffprobe: {ffprobe_line(result.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
