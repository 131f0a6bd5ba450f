"""Run every `bench/bench_*.py` module's `run(quick) -> str` and print what each returns.

    python -m bench [--quick] [name ...]

`--quick` makes each benchmark short (make test runs it so the benchmarks do not rot);
names (e.g. `faces`) pick some of the modules."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path


def bench_modules() -> list[str]:
    """The `bench_*` module names of this package, sorted."""
    here = [str(Path(__file__).parent)]
    return sorted(m.name for m in pkgutil.iter_modules(here) if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (seconds, not minutes)")
    parser.add_argument("names", nargs="*", help="benchmarks to run, e.g. faces (default: all)")
    args = parser.parse_args(argv)
    names = bench_modules()
    if args.names:
        unknown = [n for n in args.names if f"bench_{n}" not in names]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have: {', '.join(names)}")
        names = [f"bench_{n}" for n in args.names]
    print(f"# facedub benchmarks ({'quick' if args.quick else 'full'}), {platform.machine()}")
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        result = module.run(args.quick)
        print(f"\n## {name.removeprefix('bench_')} ({time.perf_counter() - started:.1f} s)\n")
        print(result, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
