"""One signaling socket: who is behind it, its rate limit, and an outbox drained by its own writer task.

Messages for a socket are queued (:meth:`Connection.send`) and written in order by the writer task, so that the
room logic never waits on a slow client and one stalled socket cannot hold up the others. A client that does not
read what it is sent (its outbox passes :data:`MAX_OUTBOX` messages) is dropped with 1008. The handshake, the caps
and the read loop every endpoint shares are in :mod:`signaling.sockets`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable

from aiohttp import web

from server.identity import Identity
from signaling import protocol as p

log = logging.getLogger(__name__)

MAX_OUTBOX = 1024
MAX_FRAME = 64 * 1024
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
_CLOSE_TIMEOUT = 5.0


class RateLimit:
    """The per-socket limit of the protocol: a token bucket of ``rate`` tokens per second holding at most twice
    that (the burst), and a client refused ten times the burst in a row is to be closed."""

    __slots__ = ("_clock", "_refused", "_stamp", "_tokens", "burst", "max_refused", "rate")

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, 2 * rate, clock
        self.max_refused = 10 * self.burst
        self._tokens: float = self.burst
        self._stamp = clock()
        self._refused = 0

    def check(self) -> bool | None:
        """True: go ahead (spends a token). False: refuse this message. None: the client keeps flooding, close it."""
        now = self._clock()
        tokens = self._tokens + (now - self._stamp) * self.rate
        self._stamp = now
        if tokens >= 1.0:
            self._tokens = (tokens if tokens < self.burst else self.burst) - 1.0
            self._refused = 0
            return True
        self._tokens = tokens
        self._refused += 1
        return None if self._refused >= self.max_refused else False


class Connection:
    """A joined or not yet joined socket. ``room`` is the room it is in, if any."""

    __slots__ = ("_idle", "_outbox", "_writer", "closing", "id", "identity", "limit", "room", "ws")

    def __init__(self, ws: web.WebSocketResponse, identity: Identity, messages_per_second: int) -> None:
        self.id = secrets.token_hex(8)
        self.ws = ws
        self.identity = identity
        self.room: str | None = None
        self.limit = RateLimit(messages_per_second)
        self.closing = False
        self._outbox: deque[str | tuple[int, str]] = deque()
        self._idle: asyncio.Future[None] | None = None  # what the writer awaits while the outbox is empty
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.id}")

    def send(self, text: str) -> None:
        """Queue one text frame (never blocks)."""
        if self.closing:
            return
        if len(self._outbox) >= MAX_OUTBOX:
            log.warning("signaling client too slow", extra={"event": "ws_slow_client", "code": CLOSE_POLICY})
            self.close_soon(CLOSE_POLICY, "too slow")
            return
        self._outbox.append(text)
        if self._idle is not None:
            self._wake()

    def close_soon(self, code: int, reason: str = "") -> None:
        """Close the socket with ``code`` after the frames already queued."""
        if self.closing:
            return
        self.closing = True
        self._outbox.append((code, reason))
        if self._idle is not None:
            self._wake()

    def _wake(self) -> None:
        idle, self._idle = self._idle, None
        if idle is not None and not idle.done():
            idle.set_result(None)

    async def _write_loop(self) -> None:
        ws, outbox = self.ws, self._outbox
        loop = asyncio.get_running_loop()
        try:
            while True:
                while outbox:
                    item = outbox.popleft()
                    if isinstance(item, str):
                        await ws.send_str(item)
                    else:
                        await asyncio.wait_for(ws.close(code=item[0], message=item[1].encode()), _CLOSE_TIMEOUT)
                        return
                idle = self._idle = loop.create_future()
                await idle  # until send() or close_soon() queues something
        except (ConnectionError, RuntimeError, TimeoutError):
            return  # the socket went away under us; the reader notices and cleans up

    async def close(self, code: int, reason: str = "") -> None:
        """Close now (used at shutdown), without waiting for queued frames."""
        self.closing = True
        self._outbox.clear()
        with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), _CLOSE_TIMEOUT)

    async def stop(self) -> None:
        """Let a close in progress finish, then cancel and await the writer task."""
        if self.closing and not self._writer.done():
            await asyncio.wait([self._writer], timeout=1.0)
        self.closing = True
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)


def send_error(conn: Connection, code: str, message: str, ref: str | None) -> None:
    conn.send(p.serialise(p.Error(code, message, ref)))


def refuse(conn: Connection, *, flooding: bool) -> None:
    """A message over the rate limit: answered with ``rate_limited``, or the socket closed if it keeps flooding."""
    if flooding:
        log.info("signaling client flooding", extra={"event": "ws_flood", "code": CLOSE_POLICY})
        conn.close_soon(CLOSE_POLICY, "flooding")
    else:
        send_error(conn, "rate_limited", "too many messages, slow down", None)
