"""Sliding-window rate limits, kept in memory per (bucket, subject)."""

from __future__ import annotations

import collections
import dataclasses
import math

from facedubd.errors import RateLimited


@dataclasses.dataclass(frozen=True)
class Decision:
    bucket: str
    limit: int
    remaining: int
    reset_s: int
    window_s: float

    def headers(self) -> dict[str, str]:
        window = math.ceil(self.window_s)
        return {
            "RateLimit-Policy": f'"{self.bucket}";q={self.limit};w={window}',
            "RateLimit": f'"{self.bucket}";r={self.remaining};t={self.reset_s}',
        }


class SlidingWindow:
    """At most `limit` hits in any `window_s` seconds, per subject."""

    def __init__(self, bucket: str, limit: int, window_s: float) -> None:
        self.bucket = bucket
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, collections.deque[float]] = {}

    def _live(self, subject: str, now: float) -> collections.deque[float]:
        hits = self._hits.setdefault(subject, collections.deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if not hits:
            # forget idle subjects so the table does not grow without bound
            self._hits.pop(subject, None)
            hits = self._hits.setdefault(subject, collections.deque())
        return hits

    def _decision(self, hits: collections.deque[float], now: float) -> Decision:
        reset = math.ceil(hits[0] + self.window_s - now) if hits else 0
        return Decision(
            self.bucket,
            self.limit,
            max(0, self.limit - len(hits)),
            max(reset, 0),
            self.window_s,
        )

    def hit(self, subject: str, now: float) -> Decision:
        """Count one hit, or raise RateLimited (with Retry-After) when the window is full."""
        hits = self._live(subject, now)
        if len(hits) >= self.limit:
            retry = max(1, math.ceil(hits[0] + self.window_s - now))
            raise RateLimited(retry_after=retry, headers=self._decision(hits, now).headers())
        hits.append(now)
        return self._decision(hits, now)

    def blocked(self, subject: str, now: float) -> int:
        """Seconds until `subject` may try again (0: not blocked); counts nothing."""
        hits = self._live(subject, now)
        if len(hits) < self.limit:
            return 0
        return max(1, math.ceil(hits[0] + self.window_s - now))

    def record(self, subject: str, now: float) -> None:
        self._live(subject, now).append(now)
