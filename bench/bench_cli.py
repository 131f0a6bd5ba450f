"""`facedub --help` start-up time against a bare `python -c pass` (median of N runs)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def _median_seconds(command: list[str], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run(quick: bool) -> str:
    runs = 3 if quick else 15
    facedub = Path(sys.executable).with_name("facedub")
    bare = _median_seconds([sys.executable, "-c", "pass"], runs)
    cli = _median_seconds([str(facedub), "--help"], runs)
    return (
        f"python -c pass   median {bare * 1000:7.1f} ms  ({runs} runs)\n"
        f"facedub --help   median {cli * 1000:7.1f} ms  ({runs} runs)\n"
        f"ratio            {cli / bare:7.2f}x  (overhead {1000 * (cli - bare):.0f} ms)"
    )
