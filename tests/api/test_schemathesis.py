"""Property-based requests from /openapi.json against the real daemon: no 500, no
response that breaks the schema. Bounded (FACEDUB_FUZZ_EXAMPLES, default 50 per operation)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from facedubd.api.app import create_app
from facedubd.api.state import AppState
from tests.harness import Daemon, make_daemon

EXAMPLES = int(os.environ.get("FACEDUB_FUZZ_EXAMPLES", "50"))


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    settings_ = {
        "workers": 0,
        "rate_post_jobs": 100_000,
        "rate_get_jobs": 100_000,
        "rate_other": 100_000,
        "auth_failures_per_window": 100_000,
        "max_active_keys": 100_000,
    }
    daemon = make_daemon(tmp_path_factory.mktemp("fuzz"), settings_)
    daemon.start()
    daemon.wait_models()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def fuzz_key(fuzz_daemon: Daemon) -> str:
    return fuzz_daemon.create_user("fuzz@example.com")[1]


def _spec() -> dict[str, Any]:
    """The document the daemon serves, built in-process so tests can be generated from it."""
    spec: dict[str, Any] = create_app(cast(AppState, None)).openapi()
    return spec


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC)


def test_served_document_is_the_one_fuzzed(fuzz_daemon: Daemon) -> None:
    with fuzz_daemon.client() as client:
        assert client.get("/openapi.json").json() == SPEC


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_error_and_schema_kept(
    case: schemathesis.Case, fuzz_daemon: Daemon, fuzz_key: str
) -> None:
    response = case.call(
        base_url=fuzz_daemon.url, headers={"Authorization": f"Bearer {fuzz_key}"}, timeout=60
    )
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
