"""server.throttle driven by a clock of its own, on SQLite and PostgreSQL: waits grow, stay capped, are not
lengthened by refused attempts, and are forgotten after a quiet window; a refused attempt is counted nowhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import create_engine, make_sessionmaker, migrate
from server.errors import TooManyAttempts
from server.models import LoginThrottle
from server.settings import Settings
from server.throttle import Limit, Schedule, SqlThrottle, login_limits

START = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
SCHEDULE = Schedule(window=timedelta(hours=1), first=timedelta(seconds=2), longest=timedelta(seconds=8))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = START + timedelta(seconds=seconds)


@pytest.fixture
async def sessionmaker(database_url: str, tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(Settings(database_url=database_url, data_dir=tmp_path / "data"))
    await migrate(engine)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _refused_for(throttle: SqlThrottle, limits: list[Limit]) -> int:
    with pytest.raises(TooManyAttempts) as refused:
        await throttle.attempt(limits)
    return refused.value.retry_after


async def _attempts(sessionmaker: async_sessionmaker[AsyncSession], key: str) -> int | None:
    async with sessionmaker.begin() as db:
        return await db.scalar(select(LoginThrottle.attempts).where(LoginThrottle.key == key))


async def test_the_wait_after_the_allowed_attempts_doubles_up_to_its_cap(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    throttle = SqlThrottle(sessionmaker, SCHEDULE, clock=clock)
    limits = [Limit("pair:k", allowed=2, cleared_on_success=True)]
    await throttle.attempt(limits)
    await throttle.attempt(limits)  # the allowed-th attempt: a wait of 2 s starts
    assert await _refused_for(throttle, limits) == 2
    clock.at(1)
    assert await _refused_for(throttle, limits) == 1  # a refused attempt does not lengthen the wait
    clock.at(2)
    await throttle.attempt(limits)  # the wait is over: one attempt, then 4 s
    clock.at(5)
    assert await _refused_for(throttle, limits) == 1
    clock.at(6)
    await throttle.attempt(limits)  # then 8 s, the cap
    clock.at(14)
    await throttle.attempt(limits)
    assert await _refused_for(throttle, limits) == 8  # still 8 s: capped
    clock.at(22)
    await throttle.attempt(limits)


async def test_a_right_password_after_the_wait_clears_the_pair_and_gives_back_the_rest(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    throttle = SqlThrottle(sessionmaker, SCHEDULE, clock=clock)
    pair, account = Limit("pair:k", 1, True), Limit("acct:k", 10, False)
    await throttle.attempt([pair, account])
    assert await _refused_for(throttle, [pair, account]) == 2
    clock.at(2)
    await throttle.attempt([pair, account])  # after the wait, the right password is let through...
    await throttle.succeeded([pair, account])  # ...and succeeds
    assert await _attempts(sessionmaker, pair.key) is None
    assert await _attempts(sessionmaker, account.key) == 1  # the failure before stays; the success is given back
    await throttle.attempt([pair, account])  # no wait any more


async def test_a_quiet_window_forgets_the_attempts(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    clock = Clock()
    throttle = SqlThrottle(sessionmaker, SCHEDULE, clock=clock)
    limits = [Limit("pair:k", allowed=2, cleared_on_success=True)]
    for _ in range(2):
        await throttle.attempt(limits)
    clock.at(3600)
    for _ in range(2):
        await throttle.attempt(limits)  # counted from 1 again
    assert await _attempts(sessionmaker, "pair:k") == 2


async def test_an_attempt_refused_by_one_key_is_counted_under_none(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    throttle = SqlThrottle(sessionmaker, SCHEDULE, clock=clock)
    pair, account = Limit("pair:k", 5, True), Limit("acct:k", 1, False)
    await throttle.attempt([pair, account])
    await _refused_for(throttle, [pair, account])  # the account waits
    assert await _attempts(sessionmaker, pair.key) == 1  # the refused attempt did not use the pair's allowance


def test_throttle_keys_hold_no_personal_data() -> None:
    settings = Settings(login_max_failures=5)
    pair, account, address = login_limits(settings, "Maria.Rossi@Example.org ", "192.0.2.7")
    assert account == login_limits(settings, "maria.rossi@example.org", "x")[1]
    assert pair != login_limits(settings, "maria.rossi@example.org", "x")[0]
    assert all(len(limit.key) <= 80 for limit in (pair, account, address))
    assert not any("maria" in limit.key or "192.0.2.7" in limit.key for limit in (pair, account, address))
    assert (pair.allowed, account.allowed, address.allowed) == (5, 20, 100)
