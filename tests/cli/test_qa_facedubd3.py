"""Third QA pass on `facedubd`'s admin commands, as a new user meets them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

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
