"""Everything a person sees. Rich is imported here, lazily, so `facedub --help` and tab
completion never pay for it. Progress and notes go to stderr; stdout carries results."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def compact_json(value: Any) -> str:
    """JSON on one line with no spaces between tokens, as facedubd writes its bodies."""
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def print_raw(text: str) -> None:
    """Print an API body (the --json contract) on one line, compact: the same JSON value
    as received, so every --json output looks alike whether it came from a response
    body or a stream event (facedubd writes those with spaces)."""
    import json

    try:
        line = compact_json(json.loads(text))
    except ValueError:  # not JSON: as received
        line = text.strip("\n")
    print_line(line)


def print_json(value: Any) -> None:
    """Print a body the CLI made itself (`config show --json`) as print_raw would."""
    print_line(compact_json(value))


def print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def note(message: str) -> None:
    """A one-line note for a person, on stderr."""
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns aligned: on a terminal as Rich draws them (a long cell wraps to its width);
    piped, one line a row, whatever its length, so `grep`, `cut` and `awk` see whole
    cells (Rich folded them at 80 columns there)."""
    if not sys.stdout.isatty():
        lines = [list(columns), *(list(row) for row in rows)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
        for line in lines:
            cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            sys.stdout.write("  ".join(cells).rstrip() + "\n")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    stdout_console().print(table)


def print_fields(pairs: Sequence[tuple[str, str]]) -> None:
    """Aligned `name: value` lines."""
    width = max((len(name) for name, _ in pairs), default=0)
    for name, value in pairs:
        sys.stdout.write(f"{name + ':':<{width + 1}} {value}\n")


def bar(fraction: float, width: int = 20) -> str:
    """A plain-text bar: `[#####---------------]`."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def age(timestamp: float | int | None, now: float | None = None) -> str:
    """`42s`, `5m`, `3h`, `2d` since a Unix timestamp."""
    if timestamp is None:
        return "-"
    seconds = max(0, int((time.time() if now is None else now) - float(timestamp)))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


ByteProgress = Callable[[int, int], None]


@contextmanager
def byte_progress(label: str, enabled: bool) -> Iterator[ByteProgress]:
    """A transfer bar on stderr; yields the (done, total) callback."""
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=stderr_console(), transient=False) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


StageProgress = Callable[[dict[str, Any]], None]


@contextmanager
def stage_progress(enabled: bool) -> Iterator[StageProgress]:
    """Live job progress on stderr: status, stage and its 0–1 progress; yields update(job)."""
    if not enabled:
        yield lambda job: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=stderr_console()) as progress:
        task = progress.add_task("queued", total=1.0)

        def update(job: dict[str, Any]) -> None:
            fraction = job.get("progress")
            label = f"{job.get('status', '?')}: {job.get('stage') or '-'}"
            completed = float(fraction) if isinstance(fraction, int | float) else None
            if job.get("status") == "completed":
                completed = 1.0
            progress.update(task, description=label, completed=completed)

        yield update
