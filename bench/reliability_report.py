"""Turn the fault tests' records (tests/faultlog.py) into RELIABILITY.md.

    python -m bench.reliability_report [--results DIR] [--out FILE]

Exit 1 when any recorded test failed or nothing was recorded, so a stale or red table
cannot be published by accident."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "build" / "reliability"
DEFAULT_OUT = ROOT / "RELIABILITY.md"

HEADER = """# Reliability

What the fault, attack, load and fuzz tests did to a real `facedubd serve` (real SQLite
file, real sockets, real pipeline child), how many times, and what was lost. Generated
by `python -m bench.reliability_report` from the records the tests write under
`build/reliability/` (`make test` regenerates it); do not edit by hand.

"Lost" is `nothing` only when the test passed: its assertions check that no job
disappeared, no credit was charged twice (the ledger's rows), `PRAGMA integrity_check`
is `ok`, no partial or personal files stayed on disk, and the daemon kept answering.
"""


@dataclasses.dataclass(frozen=True)
class Row:
    fault: str
    times: int
    lost: str
    figures: dict[str, Any]
    test: str
    passed: bool
    recorded_at: int


def load(folder: Path) -> list[Row]:
    rows: list[Row] = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        for row in record["rows"]:
            rows.append(
                Row(
                    fault=row["fault"],
                    times=int(row["times"]),
                    lost=row["lost"],
                    figures=row.get("figures", {}),
                    test=record["test"],
                    passed=bool(record["passed"]),
                    recorded_at=int(record["recorded_at"]),
                )
            )
    return rows


def _figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in figures.items()) or "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(rows: list[Row]) -> str:
    """The Markdown page: a summary line and one table row per fault tried."""
    ordered = sorted(rows, key=lambda r: (r.test.split("::")[0], r.test, r.fault))
    failed = [r for r in ordered if not r.passed]
    total = sum(r.times for r in ordered)
    lines = [HEADER]
    verdict = "nothing lost" if not failed else f"{len(failed)} FAILED"
    lines.append(f"**{len(ordered)} faults and attacks, {total} tries in all: {verdict}.**\n")
    lines.append("| fault or attack | tries | lost | figures | test | recorded |")
    lines.append("|---|---:|---|---|---|---|")
    for r in ordered:
        day = time.strftime("%Y-%m-%d", time.gmtime(r.recorded_at))
        test = r.test.replace("tests/", "", 1)
        lost = r.lost if r.passed else f"**{r.lost}**"
        lines.append(
            f"| {_cell(r.fault)} | {r.times} | {lost} | {_cell(_figures(r.figures))} "
            f"| `{_cell(test)}` | {day} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rows = load(args.results) if args.results.is_dir() else []
    if not rows:
        print(f"no fault records in {args.results}: run the tests first", file=sys.stderr)
        return 1
    args.out.write_text(render(rows))
    failed = sum(not r.passed for r in rows)
    print(f"wrote {args.out}: {len(rows)} rows, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
