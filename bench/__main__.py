"""`python -m bench [--quick] [NAME ...]`: run every bench/bench_*.py (or the named ones)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path


def discover() -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        info.name for info in pkgutil.iter_modules([str(folder)]) if info.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="a short run (make test uses it)")
    parser.add_argument("names", nargs="*", help="bench modules to run (default: all)")
    args = parser.parse_args(argv)
    for name in args.names or discover():
        module = importlib.import_module(f"bench.{name.removeprefix('bench.')}")
        started = time.perf_counter()
        report = module.run(args.quick)
        print(f"== {name} ({time.perf_counter() - started:.1f}s)\n{report.rstrip()}\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
