"""Login throttling: every attempt is counted before its password is checked, and a key that has had its share
waits a growing delay instead of being locked.

Each login attempt is counted under three keys (hashed: the table holds no email and no address):

- the account and the client address together (``pair``): ``login_max_failures`` attempts, then delays. This is
  the limit one guesser meets; it does not touch colleagues behind the same address, nor the account's owner
  elsewhere. A correct password clears it.
- the account alone (``acct``): ``ACCOUNT_FACTOR`` times as many, against guessing one account from many
  addresses. A correct password gives its own attempt back.
- the address alone (``addr``): ``ADDRESS_FACTOR`` times as many, a generous ceiling against one address
  spraying many accounts (an office behind one NAT or proxy stays far below it). A correct password gives its
  own attempt back.

Counting is one SQL statement per key (``INSERT ... ON CONFLICT DO UPDATE ... WHERE not waiting ... RETURNING``,
SQLite and PostgreSQL alike), in one transaction for the three keys, taken in that order: an attempt refused by
a key is counted nowhere (the transaction is rolled back), so a guesser's refused attempts do not use up the
account's allowance. The row lock of the upsert serialises racers: of N parallel attempts on one key, exactly
``allowed`` are counted and reach the password check; the others are refused.

After a key's ``allowed``-th counted attempt within the window it waits: the next attempt is refused (429 with
``Retry-After``) until ``FIRST_DELAY`` has passed, then one attempt is counted and the wait doubles, up to
``MAX_DELAY``. Refused attempts do not lengthen the wait, so an attacker cannot keep a colleague out for longer
than one delay. A key forgets its attempts after ``login_window_minutes`` without a counted attempt.

:class:`Throttle` is the interface ``server.auth`` uses; :class:`SqlThrottle` is the database implementation. A
Redis implementation (INCR per key with an expiry) will slot in behind the same interface when Redis arrives:
:func:`throttle_for` is where it will be chosen.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import BindParameter

from server.crypto import digest
from server.errors import TooManyAttempts
from server.models import LoginThrottle, UTCDateTime, utcnow
from server.settings import Settings

log = logging.getLogger(__name__)

ACCOUNT_FACTOR = 4  # the account alone allows this many times login_max_failures (guessing from many addresses)
ADDRESS_FACTOR = 20  # the address alone allows this many times login_max_failures (spraying many accounts)
FIRST_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=5)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Limit:
    """One key an attempt is counted under: ``allowed`` attempts in a row before the delays start."""

    key: str
    allowed: int
    cleared_on_success: bool  # a correct password forgets all its attempts (else only gives its own back)

    @property
    def kind(self) -> str:
        """What the key stands for (``pair``, ``acct`` or ``addr``): safe to log."""
        return self.key.split(":", 1)[0]


@dataclass(frozen=True)
class Schedule:
    """The waits after a key's allowance: ``first``, doubling, at most ``longest``; forgotten after ``window``."""

    window: timedelta
    first: timedelta = FIRST_DELAY
    longest: timedelta = MAX_DELAY

    def delay(self, beyond: int) -> timedelta:
        """The wait after the key's ``beyond``-th attempt past its allowance (1 = the allowed-th attempt)."""
        if beyond <= 0:
            return timedelta(0)
        steps = self.steps()
        return steps[beyond - 1] if beyond <= len(steps) else self.longest

    def steps(self) -> list[timedelta]:
        """Every distinct wait, in order; after the last one the wait stays at ``longest``."""
        steps, wait = [], self.first
        while wait < self.longest:
            steps.append(wait)
            wait *= 2
        return [*steps, self.longest]


def login_limits(settings: Settings, email: str, address: str) -> tuple[Limit, Limit, Limit]:
    """The keys a login attempt is counted under, in the order they are taken: pair, account, address."""
    account = digest(email.strip().lower())
    allowed = settings.login_max_failures
    return (
        Limit(f"pair:{digest(account + ' ' + address)}", allowed, cleared_on_success=True),
        Limit(f"acct:{account}", allowed * ACCOUNT_FACTOR, cleared_on_success=False),
        Limit(f"addr:{digest(address)}", allowed * ADDRESS_FACTOR, cleared_on_success=False),
    )


class Throttle(Protocol):
    """Counts login attempts before the password is checked (see the module's docstring)."""

    async def attempt(self, limits: Sequence[Limit]) -> None:
        """Count one attempt under every limit, or raise :class:`TooManyAttempts` and count it under none."""

    async def succeeded(self, limits: Sequence[Limit]) -> None:
        """The attempt had the right password: clear or give back what it counted."""


def throttle_for(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Throttle:
    """The throttle the settings ask for: the database's today (Redis's when Redis is configured, later)."""
    return SqlThrottle(sessionmaker, Schedule(window=timedelta(minutes=settings.login_window_minutes)))


class SqlThrottle:
    """:class:`Throttle` over the ``login_throttle`` table; ``clock`` is there for tests."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], schedule: Schedule, *, clock: Clock = utcnow
    ) -> None:
        self._sessionmaker = sessionmaker
        self._schedule = schedule
        self._clock = clock

    async def attempt(self, limits: Sequence[Limit]) -> None:
        now = self._clock()
        async with self._sessionmaker.begin() as db:
            for limit in limits:
                counted = await db.scalar(self._count(db, limit, now))
                if counted is None:  # the key is waiting: nothing of this attempt is kept (rollback)
                    raise TooManyAttempts(
                        "too many failed logins; try again later", retry_after=await self._wait(db, limit, now)
                    )
                if counted >= limit.allowed:
                    wait = self._schedule.delay(counted - limit.allowed + 1)
                    log.info("login throttle: a %s key waits %d s after this attempt", limit.kind, wait.seconds)

    async def succeeded(self, limits: Sequence[Limit]) -> None:
        now = self._clock()
        table = LoginThrottle
        async with self._sessionmaker.begin() as db:
            for limit in limits:
                if limit.cleared_on_success:
                    await db.execute(delete(table).where(table.key == limit.key))
                else:
                    given_back = update(table).where(table.key == limit.key, table.attempts > 0)
                    await db.execute(given_back.values(attempts=table.attempts - 1))
            # Keys quiet for a window and not waiting are forgotten; their rows would only take room.
            stale = table.last_at <= now - self._schedule.window
            await db.execute(delete(table).where(stale, or_(table.waits_until.is_(None), table.waits_until <= now)))

    def _count(self, db: AsyncSession, limit: Limit, now: datetime) -> ReturningInsert[int]:
        """One statement: count an attempt under ``limit`` unless its key waits; RETURNING the count (no row
        when it waits). The new wait, if any, is chosen by the new count in SQL, so racers cannot skip it."""
        table = LoginThrottle
        at = _at(now)
        count = case((table.last_at <= now - self._schedule.window, 1), else_=table.attempts + 1)
        steps = self._schedule.steps()
        waits = [(count == limit.allowed + i, _at(now + step)) for i, step in enumerate(steps)]
        waits.append((count > limit.allowed + len(steps) - 1, _at(now + self._schedule.longest)))
        first_wait = now + self._schedule.delay(1) if limit.allowed <= 1 else None
        insert = postgresql.insert if _dialect(db) == "postgresql" else sqlite.insert
        return (
            insert(table)
            .values(key=limit.key, attempts=1, last_at=now, waits_until=first_wait)
            .on_conflict_do_update(
                index_elements=[table.key],
                set_={"attempts": count, "last_at": at, "waits_until": case(*waits, else_=table.waits_until)},
                where=or_(table.waits_until.is_(None), table.waits_until <= now),
            )
            .returning(table.attempts)
        )

    async def _wait(self, db: AsyncSession, limit: Limit, now: datetime) -> int:
        """Seconds until ``limit``'s key may try again (for Retry-After), at least 1."""
        until = await db.scalar(select(LoginThrottle.waits_until).where(LoginThrottle.key == limit.key))
        seconds = (until - now).total_seconds() if until is not None else 0
        return max(1, math.ceil(seconds))


def _at(moment: datetime) -> BindParameter[datetime]:
    return literal(moment, UTCDateTime())


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name
