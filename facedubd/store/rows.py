"""Rows as frozen dataclasses: what the store hands out, never a cursor or a dict."""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
from typing import Any


@dataclasses.dataclass(frozen=True)
class User:
    id: str
    email: str
    plan: str
    credits_limit: int
    bonus_credits: int
    overage_enabled: bool
    suspended: bool
    is_local_owner: bool
    created_at: int


@dataclasses.dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    prefix: str
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    user_id: str
    status: str
    stage: str
    progress: float
    error: str | None
    error_code: str | None
    duration_seconds: int
    credits_charged: int
    is_overage: bool
    created_at: int
    started_at: int | None
    finished_at: int | None
    attempts: int
    version: int
    has_output: bool
    artifacts: tuple[str, ...]
    files_swept: bool
    seq: int

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


@dataclasses.dataclass(frozen=True)
class JobEvent:
    id: int
    job_id: str
    status: str
    stage: str
    progress: float
    created_at: float


@dataclasses.dataclass(frozen=True)
class IdempotencyRecord:
    user_id: str
    key: str
    request_hash: str
    job_id: str
    response: dict[str, Any]
    created_at: int


@functools.cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _pick(cls: type, row: sqlite3.Row, **overrides: Any) -> Any:
    values = {name: row[name] for name in _names(cls) if name not in overrides}
    return cls(**values, **overrides)


def user_from(row: sqlite3.Row) -> User:
    return _pick(
        User,
        row,
        overage_enabled=bool(row["overage_enabled"]),
        suspended=bool(row["suspended"]),
        is_local_owner=bool(row["is_local_owner"]),
    )


def key_from(row: sqlite3.Row) -> ApiKey:
    return _pick(ApiKey, row)


def job_from(row: sqlite3.Row) -> Job:
    return _pick(
        Job,
        row,
        is_overage=bool(row["is_overage"]),
        has_output=bool(row["has_output"]),
        files_swept=bool(row["files_swept"]),
        artifacts=tuple(json.loads(row["artifacts"])),
    )


def event_from(row: sqlite3.Row) -> JobEvent:
    return _pick(JobEvent, row)


def idempotency_from(row: sqlite3.Row) -> IdempotencyRecord:
    return _pick(IdempotencyRecord, row, response=json.loads(row["response"]))
