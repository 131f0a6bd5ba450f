"""Third QA pass on `facedubd`'s admin commands, as a new user meets them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from facedubd.api.routes.jobs import month_start
from facedubd.store import NewJob, SqliteStore
from tests.cli.harness import FACEDUBD, ROOT


def facedubd(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FACEDUBD_DATA_DIR": str(data)}
    env.pop("FACEDUB_DEBUG", None)
    return subprocess.run(
        [str(FACEDUBD), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_emails_differing_only_in_case_are_one_account(tmp_path: Path) -> None:
    """`users create ALICE@example.com` made a second account beside alice@example.com,
    and `users suspend Alice@Example.com` answered not_found."""
    data = tmp_path / "data"
    assert facedubd(data, "users", "create", "alice@example.com").returncode == 0
    again = facedubd(data, "users", "create", "ALICE@Example.com")
    assert again.returncode == 8
    assert again.stderr == (
        "error: already_exists: A user with the email alice@example.com already exists.\n"
    )
    assert facedubd(data, "users", "suspend", "Alice@Example.COM").returncode == 0
    users = json.loads(facedubd(data, "users", "list", "--json").stdout)
    assert [(u["email"], u["suspended"]) for u in users if not u["local_owner"]] == [
        ("alice@example.com", True)
    ]


@pytest.mark.parametrize("email", ["a b@example.com", "@example.com", "ann@", "ann@@x"])
def test_an_email_with_a_space_or_an_empty_side_is_refused(tmp_path: Path, email: str) -> None:
    """`users create 'a b@c'` made an account (the only check was an @ somewhere)."""
    done = facedubd(tmp_path / "data", "users", "create", email)
    assert done.returncode == 2
    assert done.stderr == f"error: invalid_request: {email!r} is not an email address.\n"
    users = json.loads(facedubd(tmp_path / "data", "users", "list", "--json").stdout)
    assert [u for u in users if not u["local_owner"]] == []


def test_users_list_shows_the_credits_used_this_month(tmp_path: Path) -> None:
    """`users list` showed only `CREDITS 150+10` (limit + bonus): an admin could not see
    what an account had used without its key (GET /usage)."""
    data = tmp_path / "data"
    assert facedubd(data, "users", "create", "ann@example.com").returncode == 0
    assert facedubd(data, "users", "create", "bo@example.com").returncode == 0
    assert facedubd(data, "users", "grant", "ann@example.com", "10").returncode == 0

    async def charge() -> None:  # a 15 s job admitted now, as POST /jobs admits it
        store = await SqliteStore.open(data / "facedubd.db")
        try:
            ann = await store.user_by_email("ann@example.com")
            assert ann is not None
            now = int(time.time())
            new = NewJob("0123456789ab", ann.id, 15, 3, 2, month_start(now), now)
            await store.create_job(new, lambda job: {"job_id": job.id})
        finally:
            await store.close()

    asyncio.run(charge())
    listed = facedubd(data, "users", "list")
    header, *rows = (line.split() for line in listed.stdout.splitlines())
    assert header == ["ID", "EMAIL", "PLAN", "USED", "CREDITS", "FLAGS"]
    assert [row[1:5] for row in rows] == [
        ["ann@example.com", "agency", "3", "150+10"],
        ["bo@example.com", "agency", "0", "150+0"],
    ]
    as_json = json.loads(facedubd(data, "users", "list", "--json").stdout)
    assert [(u["email"], u["credits_used"]) for u in as_json] == [
        ("ann@example.com", 3),
        ("bo@example.com", 0),
    ]
