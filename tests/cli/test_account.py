"""`usage`, `keys` and `auth` against a real facedubd: tables, --json bodies, exit codes,
and keys kept in the keyring or, where none works, in a 0600 file."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import httpx

from tests.cli.harness import Daemon, one_error_line, run_facedub


def api_get(daemon: Daemon, path: str) -> httpx.Response:
    """The same call straight over the socket, to compare bodies with."""
    transport = httpx.HTTPTransport(uds=str(daemon.socket))
    with httpx.Client(transport=transport, base_url="http://localhost") as client:
        return client.get(path)


def test_usage_table_and_json_before_or_after(daemon: Daemon) -> None:
    table = run_facedub("usage", daemon=daemon)
    assert table.code == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["plan:", "agency"]
    assert "remaining: 150" in table.stdout
    assert "0 of 150 [--------------------] 0%" in table.stdout
    direct = api_get(daemon, "/usage").text
    before = run_facedub("--json", "usage", daemon=daemon)
    after = run_facedub("usage", "--json", daemon=daemon)
    assert before.stdout == after.stdout == direct + "\n"
    assert json.loads(before.stdout)["credits_limit"] == 150
    assert before.stderr == ""


def test_keys_create_list_revoke(daemon: Daemon) -> None:
    env = {"FACEDUB_API_KEY": daemon.create_user("keys@example.com")}
    created = run_facedub("keys", "create", "--json", daemon=daemon, env=env)
    assert created.code == 0, created.stderr
    body = json.loads(created.stdout)
    assert body["key"].startswith("fdb_") and body["prefix"] == body["key"][:12]
    assert body["name"].startswith(f"facedub CLI on {socket.gethostname()} (")

    human = run_facedub("keys", "create", "ci runner", daemon=daemon, env=env)
    assert human.code == 0
    assert "ci runner" in human.stdout and "fdb_" in human.stdout
    assert "not shown again" in human.stderr

    listed = run_facedub("keys", "list", daemon=daemon, env=env)
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "PREFIX", "CREATED", "LAST", "USED"]
    assert len(rows) == 3
    assert any(body["id"] in row and body["prefix"] in row for row in rows)
    as_json = json.loads(run_facedub("keys", "list", "--json", daemon=daemon, env=env).stdout)
    assert {key["id"] for key in as_json} >= {body["id"]}

    revoked = run_facedub("keys", "revoke", body["id"], daemon=daemon, env=env)
    assert revoked.code == 0 and f"revoked {body['id']}" in revoked.stdout
    again = run_facedub("keys", "revoke", body["id"], daemon=daemon, env=env)
    assert again.code == 4
    one_error_line(again, "not_found")


def test_sixth_key_is_exit_8(daemon: Daemon) -> None:
    env = {"FACEDUB_API_KEY": daemon.create_user("cap@example.com")}
    for index in range(4):
        assert run_facedub("keys", "create", f"k{index}", daemon=daemon, env=env).code == 0
    sixth = run_facedub("keys", "create", "one too many", daemon=daemon, env=env)
    assert sixth.code == 8
    one_error_line(sixth, "key_limit")


def test_tcp_needs_a_key_and_the_server_judges(daemon: Daemon) -> None:
    no_key = run_facedub("usage", "--api-url", daemon.url)
    assert no_key.code == 3
    one_error_line(no_key, "unauthorized")
    wrong = run_facedub("--api-url", daemon.url, "usage", env={"FACEDUB_API_KEY": "fdb_nope"})
    assert wrong.code == 3
    key = daemon.create_user("pro@example.com")
    assert run_facedub("usage", "--api-url", daemon.url, env={"FACEDUB_API_KEY": key}).code == 0
    daemon.admin("users", "set-plan", "pro@example.com", "pro")
    refused = run_facedub("usage", "--api-url", daemon.url, env={"FACEDUB_API_KEY": key})
    assert refused.code == 3
    one_error_line(refused, "plan_no_api")
    daemon.admin("users", "set-plan", "pro@example.com", "agency")
    daemon.admin("users", "suspend", "pro@example.com")
    suspended = run_facedub("usage", "--api-url", daemon.url, env={"FACEDUB_API_KEY": key})
    assert suspended.code == 3
    one_error_line(suspended, "account_suspended")


def _auth_env(daemon: Daemon, backend: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PYTHON_KEYRING_BACKEND": f"tests.cli.keyrings.{backend}",
        "TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "FACEDUB_API_URL": daemon.url,
    }


def test_login_falls_back_to_a_private_file_when_the_keyring_fails(
    daemon: Daemon, tmp_path: Path
) -> None:
    key = daemon.create_user("fallback@example.com")
    env = _auth_env(daemon, "BrokenKeyring", tmp_path)
    login = run_facedub("auth", "login", "--with-key-stdin", daemon=None, env=env, stdin=key)
    assert login.code == 0, login.stderr
    warnings = [line for line in login.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "(mode 0600)" in warnings[0]
    stored = Path(os.environ["XDG_CONFIG_HOME"]) / "facedub" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert json.loads(stored.read_text()) == {"local": key}

    status = run_facedub("auth", "status", env=env)
    assert status.code == 0, status.stderr
    assert f"{key[:12]}… (from {stored})" in status.stdout
    assert "plan:    agency" in status.stdout
    assert run_facedub("usage", "--json", env=env).code == 0  # the stored key is sent

    assert run_facedub("auth", "logout", env=env).stdout.startswith("Logged out")
    assert json.loads(stored.read_text()) == {}
    assert run_facedub("usage", env=env).code == 3


def test_login_uses_a_working_keyring_and_refuses_a_bad_key(daemon: Daemon, tmp_path: Path) -> None:
    key = daemon.create_user("keyring@example.com")
    env = _auth_env(daemon, "JsonFileKeyring", tmp_path)
    bad = run_facedub("auth", "login", "--with-key-stdin", env=env, stdin="fdb_wrong\n")
    assert bad.code == 3
    one_error_line(bad, "unauthorized")
    assert not (tmp_path / "keyring.json").exists()

    login = run_facedub("--json", "auth", "login", "--with-key-stdin", env=env, stdin=key + "\n")
    assert login.code == 0 and "warning" not in login.stderr
    assert json.loads(login.stdout)["plan"] == "agency"
    assert json.loads((tmp_path / "keyring.json").read_text()) == {"facedub/local": key}
    assert "(from keyring)" in run_facedub("auth", "status", env=env).stdout
