"""Migration 0002: ledger rows written under 0001 survive it, and outlive their user."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from facedubd.store import SqliteStore
from facedubd.store.queries import migrations


def test_ledger_rows_survive_the_migration_and_the_users_deletion(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(migrations()[0][1])
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO users (id, email, plan, credits_limit, created_at) "
        "VALUES ('u1', 'a@b.c', 'agency', 150, 1)"
    )
    conn.execute(
        "INSERT INTO ledger (user_id, job_id, kind, credits, created_at) "
        "VALUES ('u1', 'j1', 'charge', 3, 2)"
    )
    conn.commit()
    conn.close()

    async def migrate_and_delete() -> None:
        store = await SqliteStore.open(path)
        try:
            await store.delete_user("u1")
        finally:
            await store.close()

    asyncio.run(migrate_and_delete())
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    rows = conn.execute("SELECT id, user_id, job_id, kind, credits FROM ledger").fetchall()
    assert rows == [(1, "u1", "j1", "charge", 3)]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
