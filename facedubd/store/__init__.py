"""The only code that speaks SQL. `open_store(path)` gives a `Store`."""

from __future__ import annotations

from pathlib import Path

from facedubd.store.base import IdempotentReplay, NewJob, Store
from facedubd.store.rows import ApiKey, IdempotencyRecord, Job, JobEvent, User
from facedubd.store.sqlite import SqliteStore

__all__ = [
    "ApiKey",
    "IdempotencyRecord",
    "IdempotentReplay",
    "Job",
    "JobEvent",
    "NewJob",
    "SqliteStore",
    "Store",
    "User",
    "open_store",
]


async def open_store(path: Path) -> Store:
    return await SqliteStore.open(path)
