"""The RELIABILITY.md generator on records written by the faultlog plugin's writer."""

from __future__ import annotations

from pathlib import Path

from bench.reliability_report import load, main, render
from tests.faultlog import FaultLog, write


def _records(folder: Path, passed: bool) -> None:
    log = FaultLog("tests/daemon/test_x.py::test_crash")
    log.tried("child killed | twice", 2, failed_after_s=0.4)
    write(log, passed, folder)
    other = FaultLog("tests/api/test_y.py::test_tokens[a]")
    other.tried("forged tokens", 9)
    write(other, True, folder)


def test_table_rows_counts_and_pipes_escaped(tmp_path: Path) -> None:
    _records(tmp_path, passed=True)
    page = render(load(tmp_path))
    assert "**2 faults and attacks, 11 tries in all: nothing lost.**" in page
    assert "| child killed \\| twice | 2 | nothing | failed_after_s 0.4 |" in page
    assert page.index("forged tokens") < page.index("child killed")  # api/ before daemon/


def test_a_failed_test_is_shown_and_fails_the_script(tmp_path: Path) -> None:
    _records(tmp_path / "r", passed=False)
    out = tmp_path / "RELIABILITY.md"
    assert main(["--results", str(tmp_path / "r"), "--out", str(out)]) == 1
    page = out.read_text()
    assert "1 FAILED" in page and "**unknown: the test failed**" in page


def test_no_records_is_an_error(tmp_path: Path) -> None:
    assert main(["--results", str(tmp_path / "none"), "--out", str(tmp_path / "o.md")]) == 1
    assert not (tmp_path / "o.md").exists()
