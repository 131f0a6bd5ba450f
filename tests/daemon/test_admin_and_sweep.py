"""Admin commands on a real data dir, and the retention sweep on a real store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from facedubd.settings import DaemonSettings
from facedubd.store import NewJob, SqliteStore
from facedubd.worker import Worker
from tests.harness import FACEDUBD, make_daemon


def admin(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACEDUBD_DATA_DIR": str(data)}
    return subprocess.run([FACEDUBD, *args], env=env, capture_output=True, text=True, timeout=60)


def test_admin_commands(tmp_path: Path) -> None:
    made = admin(tmp_path, "users", "create", "ann@example.com", "--credits-limit", "9", "--json")
    assert made.returncode == 0, made.stderr
    body = json.loads(made.stdout)
    assert set(body) == {"id", "email", "plan", "api_key"} and body["plan"] == "agency"
    assert body["api_key"].startswith("fdb_")
    human = admin(tmp_path, "users", "create", "ben@example.com", "--plan", "pro")
    assert "API key (shown once): fdb_" in human.stdout
    dup = admin(tmp_path, "users", "create", "ann@example.com")
    assert dup.returncode == 8 and dup.stderr.startswith("error: already_exists:")
    for args in (
        ("users", "suspend", "ann@example.com"),
        ("users", "set-overage", "ann@example.com", "off"),
        ("users", "grant", "ann@example.com", "4"),
        ("users", "set-plan", "ann@example.com", "starter"),
    ):
        assert admin(tmp_path, *args).returncode == 0, args
    listed = {u["email"]: u for u in json.loads(admin(tmp_path, "users", "list", "--json").stdout)}
    ann = listed["ann@example.com"]
    assert (ann["suspended"], ann["overage"], ann["bonus_credits"], ann["plan"]) == (
        True,
        False,
        4,
        "starter",
    )
    assert ann["credits_limit"] == 9 and listed["ben@example.com"]["plan"] == "pro"
    assert admin(tmp_path, "users", "set-plan", "ann@example.com", "gold").returncode == 2
    assert admin(tmp_path, "users", "set-overage", "ann@example.com", "maybe").returncode == 2
    missing = admin(tmp_path, "users", "suspend", "nobody@example.com")
    assert missing.returncode == 4 and "nobody@example.com" in missing.stderr
    key = admin(tmp_path, "keys", "create", "--user", "ben@example.com", "ci", "--json")
    assert json.loads(key.stdout)["key"].startswith("fdb_")
    assert admin(tmp_path, "users", "purge", "ben@example.com", "--yes").returncode == 0
    emails = [u["email"] for u in json.loads(admin(tmp_path, "users", "list", "--json").stdout)]
    assert emails == ["ann@example.com"]
    assert (tmp_path / "facedubd.db").stat().st_mode & 0o777 == 0o600


def test_an_admin_lists_and_revokes_a_key_and_the_running_daemon_refuses_it(
    tmp_path: Path,
) -> None:
    daemon = make_daemon(tmp_path, {})
    email = "kim@example.com"
    try:
        daemon.start()
        _, first = daemon.create_user(email)
        daemon.create_user("lee@example.com")
        made = daemon.admin("keys", "create", "--user", email, "laptop", "--json")
        second = json.loads(made.stdout)["key"]
        with daemon.client(second) as client:
            assert client.get("/usage").status_code == 200  # used once: last used is set
        listed = json.loads(daemon.admin("keys", "list", "--user", email, "--json").stdout)
        assert [set(k) for k in listed] == [
            {"id", "name", "prefix", "created_at", "last_used_at"}
        ] * 2
        by_name = {k["name"]: k for k in listed}
        laptop = by_name["laptop"]
        assert laptop["prefix"] == second[: len(laptop["prefix"])] and len(laptop["prefix"]) >= 8
        assert laptop["last_used_at"] >= laptop["created_at"]
        assert first not in json.dumps(listed) and second not in json.dumps(listed)
        plain = daemon.admin("keys", "list", "--user", email).stdout.splitlines()
        assert plain[0].split() == ["ID", "NAME", "PREFIX", "CREATED", "LAST", "USED"]
        assert len(plain) == 3 and any(line.startswith(laptop["id"]) for line in plain)
        # Someone else's key is not theirs to revoke.
        theirs = daemon.admin("keys", "revoke", laptop["id"], "--user", "lee@example.com")
        assert theirs.returncode == 4, theirs.stderr
        assert (
            theirs.stderr
            == f"error: not_found: lee@example.com has no active API key {laptop['id']}.\n"
        )
        revoked = daemon.admin("keys", "revoke", laptop["id"], "--user", email, "--json")
        assert revoked.returncode == 0, revoked.stderr
        body = json.loads(revoked.stdout)
        assert (body["id"], body["name"]) == (laptop["id"], "laptop") and body["revoked_at"]
        with daemon.client(second) as client:
            assert client.get("/usage").status_code == 401  # the very next request
        with daemon.client(first) as client:
            assert client.get("/usage").status_code == 200  # the other key still works
        again = daemon.admin("keys", "revoke", laptop["id"], "--user", email)
        assert again.returncode == 4 and again.stderr.startswith("error: not_found:")
        left = json.loads(daemon.admin("keys", "list", "--user", email, "--json").stdout)
        assert [k["id"] for k in left] == [k["id"] for k in listed if k["name"] != "laptop"]
        # The key itself instead of its id: refused without echoing the secret.
        pasted = daemon.admin("keys", "revoke", first, "--user", email)
        assert pasted.returncode == 2 and first not in pasted.stderr + pasted.stdout
        assert pasted.stderr.startswith("error: invalid_request: KEY_ID is the key's id")
        nobody = daemon.admin("keys", "list", "--user", "nobody@example.com")
        assert nobody.returncode == 4 and nobody.stderr.startswith("error: not_found:")
    finally:
        daemon.stop()


def test_retention_sweep_removes_old_outputs(tmp_path: Path) -> None:
    async def go() -> tuple[int, bool, bool]:
        store = await SqliteStore.open(tmp_path / "db")
        user = await store.create_user("a@example.com", "agency", 150)
        job = NewJob("a" * 12, user.id, 2, 1, 2, 0, 1_000)
        await store.create_job(job, lambda j: {})
        await store.claim_next_job(1_000)
        await store.complete_job(job.id, ["preview.jpg"], 1_000)
        out = tmp_path / "jobs" / job.id / "out"
        out.mkdir(parents=True)
        (out / "output.mp4").write_bytes(b"x")
        worker = Worker(store, DaemonSettings(), tmp_path / "jobs", lambda _: None)
        swept = await worker.sweep_once()
        again = await worker.sweep_once()
        row = await store.job_by_id(job.id)
        await store.close()
        assert row is not None
        return swept + again, row.files_swept, out.exists()

    assert asyncio.run(go()) == (1, True, False)
