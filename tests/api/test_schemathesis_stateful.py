"""Stateful fuzzing: schemathesis chains calls through the links it infers from the
OpenAPI document (list -> read, cancel, delete, stream, token, files) over real jobs
seeded first. Bounded by FACEDUB_FUZZ_EXAMPLES (steps scale with it); zero 5xx allowed."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.api.test_api import form
from tests.api.test_schemathesis import EXAMPLES, fuzz_daemon, fuzz_key, schema
from tests.faultlog import FaultLog
from tests.harness import Daemon

__all__ = ["fuzz_daemon", "fuzz_key"]  # module-scoped fixtures shared with the stateless run
SEEDED_JOBS = 3
EMAIL = "stateful@example.com"


def test_stateful_sequences_never_fail_the_server(
    fuzz_daemon: Daemon, fuzz_key: str, sample: Callable[[str], Path], faults: FaultLog
) -> None:
    media = {n: sample(n).read_bytes() for n in ("grace_hopper.jpg", "single_face.mp4")}
    _, seeded_key = fuzz_daemon.create_user(EMAIL, "--credits-limit", "1000")
    with fuzz_daemon.client(seeded_key) as client:
        for _ in range(SEEDED_JOBS):
            reply = client.post("/jobs", **form(media))
            assert reply.status_code in (200, 429), reply.text
    statuses: collections.Counter[int] = collections.Counter()
    key = [seeded_key]

    def new_key() -> str:
        made = fuzz_daemon.admin("keys", "create", "again", "--user", EMAIL, "--json")
        assert made.returncode == 0, made.stderr
        value: str = json.loads(made.stdout)["key"]
        return value

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {
                "base_url": fuzz_daemon.url,
                "headers": {"Authorization": f"Bearer {key[0]}"},
                "timeout": 20,
            }

        def before_call(self, case: schemathesis.Case) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key[0]}"}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            statuses[response.status_code] += 1
            revoked = case.method == "DELETE" and case.path.startswith("/api-keys/")
            ours = revoked and response.status_code == 200
            if ours and response.json()["prefix"] == key[0][:12]:  # it revoked our key
                key[0] = new_key()

        def validate_response(
            self, response: Any, case: schemathesis.Case, *args: Any, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
            )

    # Each run gets a fresh engine: one long run over a live server that changes under it
    # (jobs cancelled, keys revoked) trips Hypothesis's FlakyStrategyDefinition.
    rounds = max(1, EXAMPLES // 50)
    for _ in range(rounds):
        Workflow.run(
            settings=settings(
                max_examples=10,
                stateful_step_count=10,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=rounds == 1,
                database=None,
            )
        )
    calls = sum(statuses.values())
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    assert calls > 0 and server_errors == 0
    faults.tried(
        "stateful schemathesis sequences over real jobs",
        calls,
        server_errors=server_errors,
        statuses=" ".join(f"{code}x{n}" for code, n in sorted(statuses.items())),
    )
