"""Small output helpers shared by `facedubd` commands: JSON to stdout, one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

from facedubd.errors import FacedubError


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def fail(exc: FacedubError) -> NoReturn:
    """Print `error: <code>: <sentence>` on stderr and exit 1 (no traceback)."""
    sys.stderr.write(f"error: {exc.code}: {exc.message}\n")
    raise typer.Exit(1)
