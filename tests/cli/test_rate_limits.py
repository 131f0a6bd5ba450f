"""429 `rate_limited` against a real facedubd whose window is lowered by configuration:
the CLI waits the server's Retry-After, says so, and succeeds; with no retries left, exit 5."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.cli.harness import Daemon, one_error_line, run_facedub, start_daemon, stop_daemon

WINDOW_S = 8  # longer than a loaded machine takes to start `facedub`, short to wait


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    settings = {"FACEDUBD_RATE_WINDOW_S": str(WINDOW_S), "FACEDUBD_RATE_OTHER": "2"}
    running = start_daemon(tmp_path_factory.mktemp("limited"), settings)
    try:
        yield running
    finally:
        stop_daemon(running)


def exhaust_other_bucket(daemon: Daemon) -> int:
    """Spend the owner's `rate_other` allowance over the socket; returns the Retry-After."""
    transport = httpx.HTTPTransport(uds=str(daemon.socket))
    with httpx.Client(transport=transport, base_url="http://localhost") as client:
        for _ in range(10):
            answer = client.get("/usage")
            if answer.status_code == 429:
                assert answer.json()["code"] == "rate_limited"
                return int(answer.headers["Retry-After"])
    raise AssertionError("the lowered limit never answered 429")


def test_rate_limited_is_retried_after_retry_after(limited: Daemon) -> None:
    retry_after = exhaust_other_bucket(limited)
    assert 1 <= retry_after <= WINDOW_S
    result = run_facedub("usage", "--json", daemon=limited)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["plan"] == "agency"
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert notes, result.stderr
    waited = re.match(r"note: rate_limited: retrying in (\d+)s \(attempt 1 of 3\)", notes[0])
    assert waited is not None, notes[0]
    assert 1 <= int(waited.group(1)) <= WINDOW_S
    assert result.seconds >= int(waited.group(1))


def test_rate_limited_without_retries_is_exit_5(limited: Daemon) -> None:
    exhaust_other_bucket(limited)
    result = run_facedub("usage", daemon=limited, env={"FACEDUB_RETRIES": "0"})
    assert result.code == 5
    one_error_line(result, "rate_limited")
