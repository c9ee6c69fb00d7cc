"""Background jobs, run in-process from ``cleanup_ctx``: the outbox sender.

Several server processes may run against one database, so a sender first *claims* a due row with one atomic
``UPDATE ... WHERE claimed_until IS NULL OR claimed_until < now`` and goes on only when that changed exactly one
row. On PostgreSQL the loser of a race waits for the winner's commit and then re-checks the condition (READ
COMMITTED), on SQLite writes are serialised: on both, one process sends each email. A claim is a lease: a process
that dies mid-send leaves a row that becomes claimable again after :data:`LEASE`.

A failed delivery is retried with exponential backoff and marked FAILED after ``mail_max_attempts``. Reminders
of a cancelled booking are dropped, and so are reminders whose session has already started. Logs carry ids,
kinds and error class names only, never addresses, subjects or bodies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, cast

from aiohttp import web
from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.mail import DELIVERY_ERRORS, Mailer, mailer_for
from scheduling.notify import REMINDER_PREFIX
from server.keys import sessionmaker_key, settings_key
from server.models import Booking, BookingStatus, OutboxMessage, OutboxStatus, utcnow
from server.settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
LEASE = timedelta(minutes=5)
BATCH = 50
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=2)

Sessionmaker = async_sessionmaker[AsyncSession]


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` failures: 1, 2, 4, ... minutes, at most two hours."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


async def _due_ids(sessionmaker: Sessionmaker, now: datetime) -> list[str]:
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.send_after <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .order_by(OutboxMessage.send_after)
            .limit(BATCH)
        )
        return list(rows)


async def claim(sessionmaker: Sessionmaker, message_id: str, now: datetime) -> bool:
    """Take the lease on one due row; False when another sender has it (or it is no longer due)."""
    async with sessionmaker.begin() as db:
        result = await db.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.send_after <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .values(claimed_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount == 1


async def _finish(sessionmaker: Sessionmaker, message_id: str, **values: object) -> None:
    async with sessionmaker.begin() as db:
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )


async def _load(sessionmaker: Sessionmaker, message_id: str) -> tuple[OutboxMessage, Booking | None] | None:
    async with sessionmaker() as db:
        row = (
            await db.execute(
                select(OutboxMessage, Booking)
                .outerjoin(Booking, Booking.id == OutboxMessage.booking_id)
                .where(OutboxMessage.id == message_id)
            )
        ).one_or_none()
        return None if row is None else (row[0], row[1])


async def _stale_reminder(
    sessionmaker: Sessionmaker, message: OutboxMessage, booking: Booking | None, now: datetime
) -> bool:
    """Drop a reminder whose booking was cancelled (deleted: it must never go out) or whose session already
    started (FAILED, so staff see it was not delivered). True when it was dropped."""
    if not message.kind.startswith(REMINDER_PREFIX) or booking is None:
        return False
    if booking.status == BookingStatus.CANCELLED:
        async with sessionmaker.begin() as db:
            await db.execute(delete(OutboxMessage).where(OutboxMessage.id == message.id))
        log.info("reminder %s dropped: booking cancelled", message.id)
        return True
    if booking.starts_at <= now:
        await _finish(sessionmaker, message.id, status=OutboxStatus.FAILED, last_error="SessionStarted")
        log.info("reminder %s dropped: session already started", message.id)
        return True
    return False


async def _failed(
    sessionmaker: Sessionmaker,
    settings: Settings,
    message: OutboxMessage,
    exc: Exception,
    now: datetime,
    *,
    final: bool,
) -> None:
    """Record a failed try: retry after a backoff, or FAILED after the last attempt (or when retrying is useless)."""
    attempts = message.attempts + 1
    error = type(exc).__name__
    if final or attempts >= settings.mail_max_attempts:
        await _finish(sessionmaker, message.id, attempts=attempts, last_error=error, status=OutboxStatus.FAILED)
        log.warning("email %s (%s) failed for good after %d attempts: %s", message.id, message.kind, attempts, error)
        return
    retry_at = now + backoff(attempts)
    await _finish(sessionmaker, message.id, attempts=attempts, last_error=error, send_after=retry_at)
    log.warning("email %s (%s) not delivered (%s), attempt %d", message.id, message.kind, error, attempts)


async def _deliver(
    sessionmaker: Sessionmaker, settings: Settings, mailer: Mailer, message: OutboxMessage, now: datetime
) -> bool:
    """Deliver one claimed row and record the outcome. True when it was delivered (or kept)."""
    try:
        await mailer.deliver(message)
    except DELIVERY_ERRORS as exc:
        await _failed(sessionmaker, settings, message, exc, now, final=False)
        return False
    except Exception as exc:  # e.g. an address the email library refuses: retrying cannot help
        await _failed(sessionmaker, settings, message, exc, now, final=True)
        return False
    await _finish(sessionmaker, message.id, status=mailer.delivered, sent_at=now, attempts=message.attempts + 1)
    log.info("email %s (%s) %s", message.id, message.kind, mailer.delivered.value)
    return True


async def run_once(sessionmaker: Sessionmaker, settings: Settings, mailer: Mailer, now: datetime | None = None) -> int:
    """One round of the sender: claim, deliver and record every due row. Returns how many were delivered."""
    now = now or utcnow()
    delivered = 0
    for message_id in await _due_ids(sessionmaker, now):
        if not await claim(sessionmaker, message_id, now):
            continue
        loaded = await _load(sessionmaker, message_id)
        if loaded is None:  # deleted meanwhile (the booking was cancelled)
            continue
        message, booking = loaded
        if await _stale_reminder(sessionmaker, message, booking, now):
            continue
        delivered += await _deliver(sessionmaker, settings, mailer, message, now)
    return delivered


async def sender_loop(sessionmaker: Sessionmaker, settings: Settings, mailer: Mailer, poll_seconds: float) -> None:
    """Run :func:`run_once` every ``poll_seconds`` until cancelled; a failed round (the database briefly away)
    is logged by class name and the next round tries again."""
    while True:
        try:
            await run_once(sessionmaker, settings, mailer)
        except Exception as exc:
            log.warning("outbox round failed: %s", type(exc).__name__)
        await asyncio.sleep(poll_seconds)


JobsContext = Callable[[web.Application], AsyncIterator[None]]


def outbox_sender(poll_seconds: float = POLL_SECONDS, mailer: Mailer | None = None) -> JobsContext:
    """A cleanup context that runs the outbox sender (after ``database_ctx``, whose sessionmaker it uses)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[settings_key]
        task = asyncio.create_task(
            sender_loop(app[sessionmaker_key], settings, mailer or mailer_for(settings), poll_seconds),
            name="outbox-sender",
        )
        yield
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    return ctx


jobs_ctx: JobsContext = outbox_sender()
