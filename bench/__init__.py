"""Benchmarks that print figures (never timed assertions in tests): `python -m bench`."""
