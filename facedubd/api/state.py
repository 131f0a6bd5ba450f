"""What the API shares across requests: the store, settings, secrets, limits, models."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path
from typing import Any, Literal, Protocol

from facedubd.api.ratelimit import SlidingWindow
from facedubd.api.security import Secrets
from facedubd.settings import DaemonSettings
from facedubd.store import Store


class JobRunner(Protocol):
    def wake(self) -> None: ...
    async def cancel(self, job_id: str) -> None: ...


class JobBus:
    """Tells SSE streams that a job changed (in this process; they also poll)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def waiter(self, job_id: str) -> asyncio.Event:
        return self._events.setdefault(job_id, asyncio.Event())

    def notify(self, job_id: str) -> None:
        event = self._events.pop(job_id, None)
        if event is not None:
            event.set()


class Models:
    """The face models, prepared in a background thread at start-up: `loading`, then
    `ready`, or `failed` (for good: `error` is the failure's code, the log says why;
    no request can mend it, the daemon must be restarted once the cause is fixed)."""

    def __init__(self) -> None:
        self._settled = threading.Event()  # set once ready or failed
        self.value: Any = None
        self.error: str | None = None

    @property
    def ready(self) -> bool:
        return self._settled.is_set() and self.error is None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def state(self) -> Literal["ready", "loading", "failed"]:
        """What /healthz shows: "ready", "loading" or "failed"."""
        if self.failed:
            return "failed"
        return "ready" if self.ready else "loading"

    def set(self, value: Any) -> None:
        self.value = value
        self._settled.set()

    def fail(self, code: str) -> None:
        self.error = code
        self._settled.set()  # a request waiting for the models hears it at once

    async def wait(self, timeout_s: float) -> bool:
        """Wait until ready or failed (at most `timeout_s`); True when ready."""
        await asyncio.to_thread(self._settled.wait, timeout_s)
        return self.ready


@dataclasses.dataclass
class Limits:
    post_jobs: SlidingWindow
    get_jobs: SlidingWindow
    other: SlidingWindow
    auth_failures: SlidingWindow

    @classmethod
    def from_settings(cls, s: DaemonSettings) -> Limits:
        window = s.rate_window_s
        return cls(
            SlidingWindow("post_jobs", s.rate_post_jobs, window),
            SlidingWindow("get_jobs", s.rate_get_jobs, window),
            SlidingWindow("other", s.rate_other, window),
            SlidingWindow("auth_failures", s.auth_failures_per_window, window),
        )

    def bucket(self, name: str) -> SlidingWindow:
        window: SlidingWindow = getattr(self, name)
        return window


@dataclasses.dataclass
class AppState:
    store: Store
    settings: DaemonSettings
    secrets: Secrets
    data_dir: Path
    limits: Limits
    models: Models
    bus: JobBus
    runner: JobRunner | None = None
    public_url: str | None = None
    #: Base of file links for requests over the Unix socket: the TCP port's URL.
    tcp_url: str | None = None
    owner_uid: int = -1
    key_touched: dict[str, int] = dataclasses.field(default_factory=dict)  # key id: unix s

    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"
