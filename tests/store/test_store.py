"""The SQLite store on real database files."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from facedubd.errors import ConcurrencyLimit, CreditsExhausted, IdempotencyConflict, KeyLimit
from facedubd.store import IdempotentReplay, Job, NewJob, SqliteStore
from facedubd.store.queries import migrations, parse_named, queries
from facedubd.store.sqlite import schema_version

T = TypeVar("T")


def run(fn: Callable[[SqliteStore], Awaitable[T]], path: Path) -> T:
    async def go() -> T:
        store = await SqliteStore.open(path)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(go())


def _schema(path: Path) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    found = {(t, n, " ".join((s or "").split())) for t, n, s in rows}
    conn.close()
    return found


def test_fresh_schema_equals_all_migrations_applied(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    run(lambda s: asyncio.sleep(0), fresh)
    migrated = tmp_path / "migrated.db"
    conn = sqlite3.connect(migrated)
    for _number, script in migrations():
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {schema_version()}")
    conn.close()
    assert _schema(fresh) == _schema(migrated)
    assert sqlite3.connect(fresh).execute("PRAGMA user_version").fetchone()[0] == schema_version()
    assert sqlite3.connect(fresh).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_named_queries_parse_and_refuse_duplicates() -> None:
    assert "insert_job" in queries()
    assert parse_named("-- name: a\nSELECT 1;\n-- name: b\nSELECT 2;") == {
        "a": "SELECT 1;",
        "b": "SELECT 2;",
    }
    with pytest.raises(ValueError, match="twice"):
        parse_named("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;")


def _new(user_id: str, job_id: str, credits: int = 2, **kw: Any) -> NewJob:
    return NewJob(
        id=job_id,
        user_id=user_id,
        duration_seconds=credits * 5,
        credits=credits,
        max_active_jobs=kw.pop("max_active", 2),
        month_start=0,
        now=kw.pop("now", 1_000),
        **kw,
    )


def _resp(job: Job) -> dict[str, Any]:
    return {"job_id": job.id, "credits_charged": job.credits_charged}


def test_key_cap_and_revoke(tmp_path: Path) -> None:
    async def go(store: SqliteStore) -> None:
        user = await store.create_user("a@example.com", "agency", 150)
        for i in range(3):
            await store.create_key(user.id, f"k{i}", "fdb_x", f"hash{i}", 3, 10)
        with pytest.raises(KeyLimit):
            await store.create_key(user.id, "k4", "fdb_x", "hash4", 3, 10)
        keys = await store.active_keys(user.id)
        assert [k.name for k in keys] == ["k0", "k1", "k2"]
        revoked = await store.revoke_key(user.id, keys[0].id, 20)
        assert revoked is not None and revoked.revoked_at == 20
        assert await store.revoke_key(user.id, keys[0].id, 21) is None
        other = await store.create_user("b@example.com", "agency", 150)
        assert await store.revoke_key(other.id, keys[1].id, 21) is None
        await store.create_key(user.id, "k4", "fdb_x", "hash4", 3, 10)

    run(go, tmp_path / "db")


def test_admission_concurrency_overage_and_refund(tmp_path: Path) -> None:
    async def go(store: SqliteStore) -> None:
        user = await store.create_user("a@example.com", "agency", 3)
        first = await store.create_job(_new(user.id, "a" * 12), _resp)
        assert (first.status, first.is_overage) == ("queued", False)
        second = await store.create_job(_new(user.id, "b" * 12), _resp)
        assert second.is_overage is True
        with pytest.raises(ConcurrencyLimit):
            await store.create_job(_new(user.id, "c" * 12), _resp)
        assert await store.credits_used(user.id, 0) == 4
        failed = await store.fail_job(first.id, "boom", "pipeline_failed", 1_001)
        assert failed is not None and failed.status == "failed"
        assert await store.fail_job(first.id, "again", "pipeline_failed", 1_002) is None
        assert await store.credits_used(user.id, 0) == 2
        await store.update_user(user.id, "overage_enabled", 0)
        with pytest.raises(CreditsExhausted) as caught:
            await store.create_job(_new(user.id, "d" * 12, credits=2), _resp)
        # 1 of the 3 is left: "used up" (as it used to say) would be wrong.
        assert caught.value.message == (
            "This job needs 2 credits and 1 is left this month; overage is switched off for "
            "this account: ask for a shorter duration or more credits."
        )
        await store.create_job(_new(user.id, "e" * 12, credits=1), _resp)  # the 1 left
        listed = await store.list_jobs(user.id, 50, None)
        assert [j.id for j in listed] == ["e" * 12, "b" * 12, "a" * 12]
        assert [j.id for j in await store.list_jobs(user.id, 50, listed[1])] == ["a" * 12]

    run(go, tmp_path / "db")


def test_parallel_admission_is_atomic(tmp_path: Path) -> None:
    async def go(store: SqliteStore) -> int:
        user = await store.create_user("a@example.com", "agency", 150)

        async def one(i: int) -> bool:
            try:
                await store.create_job(_new(user.id, f"{i:012x}"), _resp)
            except ConcurrencyLimit:
                return False
            return True

        return sum(await asyncio.gather(*(one(i) for i in range(8))))

    assert run(go, tmp_path / "db") == 2


def test_idempotency_replay_and_conflict(tmp_path: Path) -> None:
    async def go(store: SqliteStore) -> None:
        user = await store.create_user("a@example.com", "agency", 150)
        job = await store.create_job(
            _new(user.id, "a" * 12, idempotency_key="k", request_hash="h1"), _resp
        )
        with pytest.raises(IdempotentReplay) as replay:
            await store.create_job(
                _new(user.id, "b" * 12, idempotency_key="k", request_hash="h1"), _resp
            )
        assert replay.value.record.response == {"job_id": job.id, "credits_charged": 2}
        with pytest.raises(IdempotencyConflict):
            await store.create_job(
                _new(user.id, "c" * 12, idempotency_key="k", request_hash="h2"), _resp
            )
        assert await store.credits_used(user.id, 0) == 2

    run(go, tmp_path / "db")


def test_claim_progress_complete_and_events(tmp_path: Path) -> None:
    async def go(store: SqliteStore) -> None:
        user = await store.create_user("a@example.com", "agency", 150)
        await store.create_job(_new(user.id, "a" * 12), _resp)
        claimed = await store.claim_next_job(1_000)
        assert claimed is not None and (claimed.status, claimed.attempts) == ("processing", 1)
        assert await store.claim_next_job(1_000) is None
        await store.set_progress(claimed.id, "preparing", 0.5, 1_001.0)
        await store.requeue_job(claimed.id)
        again = await store.claim_next_job(1_002)
        assert again is not None and again.attempts == 2
        done = await store.complete_job(again.id, ["preview.jpg"], 1_003)
        assert done is not None and (done.status, done.stage, done.artifacts) == (
            "completed",
            "done",
            ("preview.jpg",),
        )
        stages = [(e.status, e.stage) for e in await store.job_events(again.id)]
        # A claimed job is no longer waiting for a worker: it is preparing at once.
        assert stages[0] == ("processing", "preparing")
        assert stages[-1] == ("completed", "done")
        assert [j.id for j in await store.expired_outputs(2_000)] == [again.id]
        await store.mark_swept(again.id)
        assert await store.expired_outputs(2_000) == []

    run(go, tmp_path / "db")


def test_artifacts_are_recorded_as_made_and_dropped_when_a_job_fails(tmp_path: Path) -> None:
    async def go(store: SqliteStore) -> None:
        user = await store.create_user("a@example.com", "agency", 150)
        await store.create_job(_new(user.id, "a" * 12), _resp)
        job = await store.claim_next_job(1_000)
        assert job is not None
        await store.set_progress(job.id, "extracting_keyframe", 0.0, 1_001.0, ["front.png"])
        await store.set_progress(job.id, "extracting_keyframe", 0.5, 1_002.0)  # None: kept
        now = await store.job_by_id(job.id)
        assert now is not None and now.artifacts == ("front.png",)
        await store.fail_job(job.id, "It broke.", "pipeline_failed", 1_003)
        failed = await store.job_by_id(job.id)
        # The failed job's files are removed: no links to them are left.
        assert failed is not None and (failed.status, failed.artifacts) == ("failed", ())

    run(go, tmp_path / "db")
