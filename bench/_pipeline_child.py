"""One pipeline run in its own process, for bench_pipeline: its peak RSS is then the run's
own. Prints one JSON object: the RunResult, the wall time and the peak RSS (KiB).

    python -m bench._pipeline_child PHOTO VIDEO OUT_DIR DURATION
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from facedubd.pipeline import run
from facedubd.pipeline.orchestrate import result_json
from facedubd.pipeline.types import PipelineSettings


def main(argv: list[str]) -> int:
    photo, video, out_dir, duration = argv
    started = time.perf_counter()
    result = run(
        Path(photo),
        Path(video),
        Path(out_dir),
        PipelineSettings(duration=int(duration), device="cpu"),
        lambda stage, progress: None,
    )
    wall_s = time.perf_counter() - started
    body = {
        "result": result_json(result),
        "wall_s": wall_s,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "ffmpeg_peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    print(json.dumps(body))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
