"""`python -m bench.demo [--quick]`: the main job on real input. The NASA astronaut
portrait performs `WolfgangLanger_Pexels.mp4` for 5 s (2 s with --quick), through
`facedubd.pipeline.run`, into `./out/demo/`; prints where the video and the views are
and a one-line ffprobe summary of the video."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

from facedubd.errors import FacedubError
from facedubd.pipeline import run
from facedubd.pipeline.types import PipelineSettings
from facedubd.samples import sample_path

PHOTO = "astronaut.png"
VIDEO = "WolfgangLanger_Pexels.mp4"
OUT_DIR = Path("out") / "demo"


def ffprobe_line(path: Path) -> str:
    """Each stream's kind, codec, pixel format, size, rate and length, on one line."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    parts = []
    for stream in json.loads(done.stdout)["streams"]:
        words = [stream["codec_type"], stream["codec_name"]]
        if stream["codec_type"] == "video":
            rate = float(Fraction(stream["r_frame_rate"]))
            words += [stream["pix_fmt"], f"{stream['width']}x{stream['height']}", f"{rate:.3f} fps"]
        words.append(f"{float(stream['duration']):.3f} s")
        parts.append(" ".join(words))
    return " | ".join(parts)


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
