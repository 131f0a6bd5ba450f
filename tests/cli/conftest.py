"""CLI test fixtures (defined in harness.py, shared with the test modules)."""

from tests.cli.harness import daemon

__all__ = ["daemon"]
