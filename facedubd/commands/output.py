"""Small output helpers shared by `facedubd` commands: JSON to stdout, one-line errors,
and the one table of exit codes (`facedubd run` keeps the same numbers).

| exit | meaning | codes |
|---|---|---|
| 0 | done | |
| 1 | failed, or not confirmed | internal, model_error, device_unavailable, cancelled, ... |
| 2 | usage or configuration error: a flag, argument, setting or config file | invalid_request |
| 4 | not found | not_found |
| 8 | refused: it conflicts with what exists | already_exists, key_limit |
| 130 | stopped by Ctrl-C (`run`, the `users purge` question) | cancelled |
| 143, 129 | `run` stopped by SIGTERM, SIGHUP (128 + the signal's number) | cancelled |
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer

from facedubd.errors import (
    AlreadyExists,
    FacedubError,
    InputError,
    InvalidRequest,
    KeyLimit,
    NotFound,
)

OK_EXIT = 0
FAILURE_EXIT = 1
USAGE_EXIT = 2
NOT_FOUND_EXIT = 4
REFUSED_EXIT = 8
INTERRUPTED_EXIT = 130  # the shell's code for a command stopped by Ctrl-C (128 + SIGINT)


def exit_code(exc: FacedubError) -> int:
    """The exit status of a `facedubd` command that failed with `exc`."""
    if isinstance(exc, InvalidRequest | InputError):
        return USAGE_EXIT
    if isinstance(exc, NotFound):
        return NOT_FOUND_EXIT
    if isinstance(exc, AlreadyExists | KeyLimit):
        return REFUSED_EXIT
    return FAILURE_EXIT


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, separators=(",", ":")) + "\n")


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines with each column padded to its widest cell (two spaces between): whole
    words and paths at any width, so `grep` and `cut` work on them piped."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A header line and one line a row, columns aligned (as `facedub`'s tables)."""
    for line in aligned([header, *rows]):
        print(line)


def fail(exc: FacedubError) -> NoReturn:
    """Print `error: <code>: <sentence>` on stderr and exit with its status (no traceback)."""
    sys.stderr.write(f"error: {exc.code}: {exc.message}\n")
    raise typer.Exit(exit_code(exc))
