"""The benchmark runner finds every bench_*.py module and refuses unknown names."""

from __future__ import annotations

import pytest

from bench.__main__ import bench_modules, main


def test_the_runner_finds_the_face_benchmark() -> None:
    names = bench_modules()
    assert "bench_faces" in names
    assert all(name.startswith("bench_") for name in names)
    assert names == sorted(names)


def test_an_unknown_benchmark_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["no_such_thing"])
    assert stopped.value.code == 2
    assert "unknown benchmark(s) no_such_thing" in capsys.readouterr().err
