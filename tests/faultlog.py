"""Records what each reliability test tried, for `bench/reliability_report.py`.

A test asks for the `faults` fixture and calls `faults.tried(name, times, **figures)`
after its assertions; at teardown one JSON file per test is written under
`build/reliability/` (or `FACEDUB_RELIABILITY_DIR`) with the test's outcome, so a
failing test shows up in RELIABILITY.md as a failure, never as a stale success."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTHING_LOST = "nothing"


def results_dir() -> Path:
    chosen = os.environ.get("FACEDUB_RELIABILITY_DIR")
    return Path(chosen) if chosen else ROOT / "build" / "reliability"


@dataclasses.dataclass
class Tried:
    fault: str
    times: int
    figures: dict[str, float | int | str]


@dataclasses.dataclass
class FaultLog:
    test_id: str
    rows: list[Tried] = dataclasses.field(default_factory=list)

    def tried(self, fault: str, times: int, **figures: float | int | str) -> None:
        """Call after the assertions that prove nothing was lost."""
        self.rows.append(Tried(fault, times, dict(figures)))


def _file_name(test_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id).strip("_")[:180] + ".json"


def write(log: FaultLog, passed: bool, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "test": log.test_id,
        "passed": passed,
        "recorded_at": int(time.time()),
        "rows": [
            {
                "fault": row.fault,
                "times": row.times,
                "lost": NOTHING_LOST if passed else "unknown: the test failed",
                "figures": row.figures,
            }
            for row in log.rows
        ],
    }
    path = folder / _file_name(log.test_id)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    return report


_PASSED = pytest.StashKey[bool]()


@pytest.fixture
def faults(request: pytest.FixtureRequest) -> Iterator[FaultLog]:
    log = FaultLog(request.node.nodeid)
    yield log
    if log.rows:
        write(log, request.node.stash.get(_PASSED, False), results_dir())
