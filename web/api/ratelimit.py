"""Rate limits of the public API: an in-memory token bucket per client address and per kind of request.

Addresses are kept only as a truncated SHA-256 (no personal data in memory dumps or logs). The table is bounded:
when it is full, the buckets idle longest are dropped (a dropped bucket is a full one, so nobody is wrongly
refused). One process, one table: behind several processes each one limits on its own, which is the intent (a
coarse brake on scripts, not an accounting system).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from server.errors import TooManyAttempts

BOOKINGS_PER_MINUTE = 10  # POST and DELETE of bookings, per address
SLOT_QUERIES_PER_MINUTE = 120  # service and slot listings, per address
MAX_TRACKED = 10_000  # buckets kept in memory


@dataclass
class Rate:
    per_minute: float
    burst: float  # bucket size

    @classmethod
    def of(cls, per_minute: float) -> Rate:
        return cls(per_minute, per_minute)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``limits`` maps a kind (``"booking"``, ``"query"``) to its :class:`Rate`; it may be changed at run time."""

    def __init__(self, limits: dict[str, Rate], clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    @staticmethod
    def key(address: str | None) -> str:
        return hashlib.sha256((address or "unknown").encode()).hexdigest()[:32]

    def check(self, kind: str, address: str | None) -> None:
        """Take one token for ``kind`` from the address's bucket, or raise TooManyAttempts with Retry-After."""
        rate = self.limits.get(kind)
        if rate is None or rate.per_minute <= 0:
            return
        now = self._clock()
        key = (kind, self.key(address))
        bucket = self._buckets.pop(key, None) or _Bucket(rate.burst, now)
        per_second = rate.per_minute / 60
        bucket.tokens = min(rate.burst, bucket.tokens + (now - bucket.updated) * per_second)
        bucket.updated = now
        self._buckets[key] = bucket  # most recently used last
        while len(self._buckets) > MAX_TRACKED:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1:
            retry_after = max(1, math.ceil((1 - bucket.tokens) / per_second))
            raise TooManyAttempts("too many requests; please wait a moment", retry_after=retry_after)
        bucket.tokens -= 1


def default_limiter() -> RateLimiter:
    return RateLimiter({"booking": Rate.of(BOOKINGS_PER_MINUTE), "query": Rate.of(SLOT_QUERIES_PER_MINUTE)})


limiter_key = web.AppKey("api_rate_limiter", RateLimiter)
