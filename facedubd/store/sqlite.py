"""The SQLite store: aiosqlite, WAL, busy_timeout, BEGIN IMMEDIATE for read-then-write.

Writes go through one aiosqlite connection under a lock (one transaction at a time in
this process; other processes, such as the admin commands, wait on busy_timeout). Reads
use a second, plain sqlite3 connection on the event loop's thread: WAL readers never
wait for writers, and an indexed point read costs less than a hop to another thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite

from facedubd.errors import ConcurrencyLimit, CreditsExhausted, IdempotencyConflict, KeyLimit
from facedubd.store.base import IdempotentReplay, NewJob, ResponseOf
from facedubd.store.queries import fresh_schema, migrations, queries
from facedubd.store.rows import (
    ApiKey,
    IdempotencyRecord,
    Job,
    JobEvent,
    User,
    event_from,
    idempotency_from,
    job_from,
    key_from,
    user_from,
)

BUSY_TIMEOUT_MS = 10_000
_USER_FIELDS = {
    "plan": "set_user_plan",
    "suspended": "set_user_suspended",
    "overage_enabled": "set_user_overage",
    "credits_limit": "set_user_credits_limit",
    "bonus_credits": "add_bonus_credits",
}


def schema_version() -> int:
    return migrations()[-1][0]


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _connect_reader(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA query_only = ON")
    return conn


async def migrate(conn: aiosqlite.Connection) -> None:
    """Create the fresh schema on an empty database, else apply the migrations it lacks."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        if current == 0:
            for statement in _statements(fresh_schema()):
                await conn.execute(statement)
        else:
            for number, script in migrations():
                if number > current:
                    for statement in _statements(script):
                        await conn.execute(statement)
        await conn.execute(f"PRAGMA user_version = {schema_version()}")
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a script into statements (ours have no `;` inside literals or triggers)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


class SqliteStore:
    def __init__(self, writer: aiosqlite.Connection, reader: sqlite3.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        self._q = queries()

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        writer = await _connect(path)
        await migrate(writer)
        reader = _connect_reader(path)
        with contextlib.suppress(OSError):
            path.chmod(0o600)
        return cls(writer, reader)

    async def close(self) -> None:
        self._reader.close()
        await self._writer.close()

    # -- plumbing -------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    async def _one(
        self, query: str, conn: aiosqlite.Connection | None = None, /, **params: Any
    ) -> sqlite3.Row | None:
        if conn is None:
            found: sqlite3.Row | None = self._reader.execute(self._q[query], params).fetchone()
            return found
        async with conn.execute(self._q[query], params) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    async def _all(
        self, query: str, conn: aiosqlite.Connection | None = None, /, **params: Any
    ) -> list[sqlite3.Row]:
        if conn is None:
            return self._reader.execute(self._q[query], params).fetchall()
        async with conn.execute(self._q[query], params) as cur:
            return list(await cur.fetchall())

    async def _scalar(
        self, query: str, conn: aiosqlite.Connection | None = None, /, **p: Any
    ) -> int:
        row = await self._one(query, conn, **p)
        return int(row[0]) if row else 0

    async def _run(self, conn: aiosqlite.Connection, query: str, /, **params: Any) -> int:
        cur = await conn.execute(self._q[query], params)
        count = cur.rowcount
        await cur.close()
        return count

    # -- users ----------------------------------------------------------------------

    async def create_user(
        self, email: str, plan: str, credits_limit: int, *, local_owner: bool = False
    ) -> User:
        user_id = "usr_" + secrets.token_hex(8)
        async with self._tx() as tx:
            await self._run(
                tx,
                "insert_user",
                id=user_id,
                email=email,
                plan=plan,
                credits_limit=credits_limit,
                is_local_owner=int(local_owner),
                created_at=_now(),
            )
        user = await self.user_by_id(user_id)
        assert user is not None
        return user

    async def user_by_id(self, user_id: str) -> User | None:
        row = await self._one("user_by_id", id=user_id)
        return user_from(row) if row else None

    async def user_by_email(self, email: str) -> User | None:
        row = await self._one("user_by_email", email=email)
        return user_from(row) if row else None

    async def local_owner(self) -> User | None:
        row = await self._one("local_owner")
        return user_from(row) if row else None

    async def list_users(self) -> list[User]:
        return [user_from(r) for r in await self._all("list_users")]

    async def update_user(self, user_id: str, field: str, value: int | str) -> None:
        async with self._tx() as tx:
            await self._run(tx, _USER_FIELDS[field], id=user_id, value=value)

    async def delete_user(self, user_id: str) -> None:
        async with self._tx() as tx:
            await self._run(tx, "delete_user_events", id=user_id)
            await self._run(tx, "delete_user", id=user_id)

    # -- keys -----------------------------------------------------------------------

    async def create_key(
        self, user_id: str, name: str, prefix: str, key_hash: str, max_active: int, now: int
    ) -> ApiKey:
        key_id = "key_" + secrets.token_hex(8)
        async with self._tx() as tx:
            if await self._scalar("count_active_keys", tx, user_id=user_id) >= max_active:
                raise KeyLimit(
                    f"This account already has {max_active} active API keys; revoke one first."
                )
            await self._run(
                tx,
                "insert_key",
                id=key_id,
                user_id=user_id,
                name=name,
                prefix=prefix,
                key_hash=key_hash,
                created_at=now,
            )
            row = await self._one("key_by_id", tx, id=key_id, user_id=user_id)
        assert row is not None
        return key_from(row)

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        row = await self._one("key_by_hash", key_hash=key_hash)
        return key_from(row) if row else None

    async def touch_key(self, key_id: str, now: int) -> None:
        async with self._tx() as tx:
            await self._run(tx, "touch_key", id=key_id, now=now)

    async def active_keys(self, user_id: str) -> list[ApiKey]:
        return [key_from(r) for r in await self._all("active_keys", user_id=user_id)]

    async def revoke_key(self, user_id: str, key_id: str, now: int) -> ApiKey | None:
        async with self._tx() as tx:
            if not await self._run(tx, "revoke_key", id=key_id, user_id=user_id, now=now):
                return None
            row = await self._one("key_by_id", tx, id=key_id, user_id=user_id)
        return key_from(row) if row else None

    # -- credits --------------------------------------------------------------------

    async def credits_used(self, user_id: str, since: int) -> int:
        return await self._scalar("credits_used_since", user_id=user_id, since=since)

    async def count_active_jobs(self, user_id: str) -> int:
        return await self._scalar("count_active_jobs", user_id=user_id)

    # -- jobs -----------------------------------------------------------------------

    async def create_job(self, new: NewJob, response_of: ResponseOf) -> Job:
        """Admit and insert a job with its ledger charge, all in one transaction."""
        async with self._tx() as tx:
            if new.idempotency_key is not None:
                await self._check_replay(tx, new)
            user_row = await self._one("user_by_id", tx, id=new.user_id)
            assert user_row is not None
            user = user_from(user_row)
            if await self._scalar("count_active_jobs", tx, user_id=user.id) >= new.max_active_jobs:
                raise ConcurrencyLimit(
                    f"This account already has {new.max_active_jobs} active jobs; "
                    "wait for one to finish before submitting another."
                )
            used = await self._scalar(
                "credits_used_since", tx, user_id=user.id, since=new.month_start
            )
            allowance = user.credits_limit + user.bonus_credits
            over = used + new.credits > allowance
            if over and not user.overage_enabled:
                raise CreditsExhausted.for_job(new.credits, allowance - used)
            await self._run(
                tx,
                "insert_job",
                id=new.id,
                user_id=user.id,
                duration_seconds=new.duration_seconds,
                credits_charged=new.credits,
                is_overage=int(over),
                created_at=new.now,
            )
            await self._run(
                tx,
                "insert_ledger",
                user_id=user.id,
                job_id=new.id,
                kind="charge",
                credits=new.credits,
                created_at=new.now,
            )
            row = await self._one("job_by_id", tx, id=new.id)
            assert row is not None
            job = job_from(row)
            if new.idempotency_key is not None:
                await self._run(
                    tx,
                    "insert_idempotency",
                    user_id=user.id,
                    key=new.idempotency_key,
                    request_hash=new.request_hash,
                    job_id=job.id,
                    response=json.dumps(response_of(job)),
                    created_at=new.now,
                )
        return job

    async def _check_replay(self, tx: aiosqlite.Connection, new: NewJob) -> None:
        row = await self._one(
            "idempotency_by_key",
            tx,
            user_id=new.user_id,
            key=new.idempotency_key,
            since=new.now - 86400,
        )
        if row is None:
            return
        record = idempotency_from(row)
        if record.request_hash != new.request_hash:
            raise IdempotencyConflict()
        raise IdempotentReplay(record)

    async def idempotency(self, user_id: str, key: str, since: int) -> IdempotencyRecord | None:
        row = await self._one("idempotency_by_key", user_id=user_id, key=key, since=since)
        return idempotency_from(row) if row else None

    async def prune_idempotency(self, before: int) -> None:
        async with self._tx() as tx:
            await self._run(tx, "prune_idempotency", since=before)

    async def job_for_user(self, user_id: str, job_id: str) -> Job | None:
        row = await self._one("job_for_user", id=job_id, user_id=user_id)
        return job_from(row) if row else None

    async def job_by_id(self, job_id: str) -> Job | None:
        row = await self._one("job_by_id", id=job_id)
        return job_from(row) if row else None

    async def list_jobs(self, user_id: str, limit: int, before: Job | None) -> list[Job]:
        if before is None:
            rows = await self._all("list_jobs", user_id=user_id, limit=limit)
        else:
            rows = await self._all(
                "list_jobs_before",
                user_id=user_id,
                limit=limit,
                created_at=before.created_at,
                seq=before.seq,
            )
        return [job_from(r) for r in rows]

    async def claim_next_job(self, now: int) -> Job | None:
        async with self._tx() as tx:
            row = await self._one("next_queued_job", tx)
            if row is None:
                return None
            await self._run(tx, "mark_processing", id=row["id"], now=now)
            await self._event(tx, row["id"], now)
            claimed = await self._one("job_by_id", tx, id=row["id"])
        return job_from(claimed) if claimed else None

    async def _event(self, tx: aiosqlite.Connection, job_id: str, now: float) -> None:
        row = await self._one("job_by_id", tx, id=job_id)
        if row is not None:
            await self._run(
                tx,
                "insert_event",
                job_id=job_id,
                status=row["status"],
                stage=row["stage"],
                progress=row["progress"],
                created_at=now,
            )

    async def set_progress(
        self,
        job_id: str,
        stage: str,
        progress: float,
        now: float,
        artifacts: list[str] | None = None,
    ) -> None:
        """Record a running job's stage and progress, and the artifacts made so far when
        given (None keeps the recorded ones)."""
        listed = None if artifacts is None else json.dumps(artifacts)
        async with self._tx() as tx:
            changed = await self._run(
                tx, "set_progress", id=job_id, stage=stage, progress=progress, artifacts=listed
            )
            if changed:
                await self._event(tx, job_id, now)

    async def complete_job(self, job_id: str, artifacts: list[str], now: int) -> Job | None:
        async with self._tx() as tx:
            done = await self._run(
                tx, "mark_completed", id=job_id, artifacts=json.dumps(artifacts), now=now
            )
            if done:
                await self._event(tx, job_id, now)
            row = await self._one("job_by_id", tx, id=job_id)
        return job_from(row) if row else None

    async def fail_job(self, job_id: str, error: str, error_code: str, now: int) -> Job | None:
        """Fail a queued or processing job and refund its charge; None if it had finished."""
        async with self._tx() as tx:
            failed = await self._run(
                tx, "mark_failed", id=job_id, error=error, error_code=error_code, now=now
            )
            row = await self._one("job_by_id", tx, id=job_id)
            if not failed or row is None:
                return None
            await self._run(
                tx,
                "insert_ledger",
                user_id=row["user_id"],
                job_id=job_id,
                kind="refund",
                credits=-int(row["credits_charged"]),
                created_at=now,
            )
            await self._event(tx, job_id, now)
        return job_from(row)

    async def requeue_job(self, job_id: str, *, undo_attempt: bool = False) -> None:
        async with self._tx() as tx:
            if await self._run(tx, "mark_requeued", id=job_id, undo=int(undo_attempt)):
                await self._event(tx, job_id, _now())

    async def processing_jobs(self) -> list[Job]:
        return [job_from(r) for r in await self._all("processing_jobs")]

    async def delete_job(self, job_id: str, now: int) -> None:
        async with self._tx() as tx:
            await self._run(tx, "mark_deleted", id=job_id, now=now)

    async def expired_outputs(self, before: int) -> list[Job]:
        return [job_from(r) for r in await self._all("expired_outputs", before=before)]

    async def mark_swept(self, job_id: str) -> None:
        async with self._tx() as tx:
            await self._run(tx, "mark_swept", id=job_id)

    async def job_events(self, job_id: str) -> list[JobEvent]:
        return [event_from(r) for r in await self._all("job_events", job_id=job_id)]


def _now() -> int:
    return int(time.time())
