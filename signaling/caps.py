"""How many signaling sockets one identity, one client address and the whole process may hold open.

One :class:`Sockets` registry per application (under :data:`sockets_key`) counts the sockets of ``/ws``,
``/ws/group`` and ``/ws/alerts`` together against ``ws_max_per_identity`` (per citizen pass or staff member),
``ws_max_per_address`` (the address is :func:`server.client_address.client_address`'s, which believes
``X-Forwarded-For`` from trusted proxies only) and ``ws_max_total``. A place is reserved before the upgrade (no
await between the check and the reservation) and released when the socket is gone; a handshake over a cap is
answered 429 with ``{"error": "too_many_sockets", "limit": "identity" | "address" | "total"}``.

Refusals are logged once per burst (:class:`RefusalLog`): the first refusal of a key, then how many followed once
that key has been quiet for a while. The log names the limit only, never the identity or the address.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from server.settings import Settings
from signaling.connection import Connection

log = logging.getLogger(__name__)

QUIET_SECONDS = 10.0  # a burst of refusals of one key ends after this long without one
MAX_BURSTS = 1024  # keys followed at once; refusals of further keys are counted together


class Limit(enum.StrEnum):
    IDENTITY = "identity"
    ADDRESS = "address"
    TOTAL = "total"


@dataclass
class _Burst:
    limit: Limit
    more: int  # refusals after the first one, not logged yet
    last: float


class RefusalLog:
    """Logs refused handshakes once per burst per key; :meth:`flush` (called periodically) ends quiet bursts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._bursts: dict[str, _Burst] = {}

    def note(self, limit: Limit, key: str) -> None:
        """One refusal by ``limit`` of ``key`` (an identity key, an address, or the process)."""
        now = self._clock()
        burst_key = f"{limit}:{key}" if len(self._bursts) < MAX_BURSTS else f"{limit}:*"
        burst = self._bursts.get(burst_key)
        if burst is not None:
            burst.more += 1
            burst.last = now
            return
        self._bursts[burst_key] = _Burst(limit, 0, now)
        log.warning(
            "signaling socket refused by the %s cap", limit.value, extra={"event": "ws_cap_refused", "status": 429}
        )

    def flush(self, *, force: bool = False) -> None:
        """Log and forget the bursts that have been quiet for :data:`QUIET_SECONDS` (every burst if ``force``)."""
        if not self._bursts:
            return
        now = self._clock()
        for key, burst in list(self._bursts.items()):
            if force or now - burst.last >= QUIET_SECONDS:
                del self._bursts[key]
                if burst.more:
                    extra = {"event": "ws_cap_refused_burst", "status": 429}
                    log.warning(
                        "%d signaling sockets refused by the %s cap in one burst",
                        burst.more + 1,
                        burst.limit.value,
                        extra=extra,
                    )


class Sockets:
    """Every signaling socket of this process, whatever its endpoint: the caps' counts and the open connections
    (which the revocation sweeper of :mod:`signaling.sockets` checks)."""

    def __init__(self, settings: Settings) -> None:
        self._max_identity = settings.ws_max_per_identity
        self._max_address = settings.ws_max_per_address
        self._max_total = settings.ws_max_total
        self._by_identity: dict[str, int] = {}
        self._by_address: dict[str, int] = {}
        self._total = 0
        self._open: dict[str, Connection] = {}
        self.refusals = RefusalLog()

    @property
    def total(self) -> int:
        """Places taken (sockets open or being opened)."""
        return self._total

    def reserve(self, identity_key: str, address: str) -> Limit | None:
        """Take a place for a socket of ``identity_key`` from ``address``, or say which cap refuses it."""
        refused: Limit | None = None
        if self._total >= self._max_total:
            refused, key = Limit.TOTAL, ""
        elif self._by_address.get(address, 0) >= self._max_address:
            refused, key = Limit.ADDRESS, address
        elif self._by_identity.get(identity_key, 0) >= self._max_identity:
            refused, key = Limit.IDENTITY, identity_key
        if refused is not None:
            self.refusals.note(refused, key)
            return refused
        self._total += 1
        self._by_address[address] = self._by_address.get(address, 0) + 1
        self._by_identity[identity_key] = self._by_identity.get(identity_key, 0) + 1
        return None

    def release(self, identity_key: str, address: str) -> None:
        """Give back a place taken by :meth:`reserve`."""
        self._total -= 1
        _decrement(self._by_address, address)
        _decrement(self._by_identity, identity_key)

    def add(self, conn: Connection) -> None:
        self._open[conn.id] = conn

    def discard(self, conn: Connection) -> None:
        self._open.pop(conn.id, None)

    def open_connections(self) -> list[Connection]:
        return list(self._open.values())


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


sockets_key = web.AppKey("sockets", Sockets)
