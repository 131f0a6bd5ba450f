"""Benchmarks: each `bench_*.py` has `run(quick: bool) -> str` and prints ratios, not verdicts."""
