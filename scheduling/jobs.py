"""Background jobs, run in-process from ``cleanup_ctx``: the outbox sender.

Several server processes may run against one database, so a sender first *claims* a batch of due rows with one
atomic ``UPDATE ... WHERE <due> AND (claimed_until IS NULL OR claimed_until < now) RETURNING id`` and sends only
the rows returned. On PostgreSQL the loser of a race waits for the winner's commit and then re-checks the
condition on the updated row (READ COMMITTED), on SQLite writes are serialised: on both, one process sends each
email. A claim is a lease: a process that dies mid-send leaves rows that become claimable again after
:data:`LEASE` (one that stops cleanly gives back the rows it did not get to).

A failed delivery is retried with exponential backoff and marked FAILED after ``mail_max_attempts``. Reminders
of a cancelled booking are dropped, and so are reminders whose session has already started. Logs carry ids,
kinds and error class names only, never addresses, subjects or bodies.

A row's links are opened from their seal (:mod:`server.outbox`) only to build the email in memory, and the
sealed value is deleted as soon as the row is done: sent, kept (no SMTP), or failed for good. A row whose seal
does not open (a key no longer held) fails at once with ``SealError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.mail import DELIVERY_ERRORS, Mailer, mailer_for, outgoing
from scheduling.notify import REMINDER_PREFIX
from server import outbox
from server.keys import keyring_key, sessionmaker_key, settings_key
from server.models import Booking, BookingStatus, OutboxMessage, OutboxStatus, utcnow
from server.periodic import CleanupContext, running
from server.sealing import Keyring, SealError
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
    doublings: int = 2 ** max(attempts - 1, 0)
    return min(BACKOFF_FIRST * doublings, BACKOFF_MAX)


def _claimable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Due, pending and not leased to a sender (or its lease ran out)."""
    return (
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.send_after <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


async def claim_due(sessionmaker: Sessionmaker, now: datetime, limit: int = BATCH) -> list[str]:
    """Take the lease on up to ``limit`` due rows, oldest first, in one ``UPDATE ... RETURNING``: the ids this
    sender got. The conditions are on the updated row itself, so a racing sender that updated it first (and
    committed) makes it fail them: each row is returned to one sender only."""
    due = select(OutboxMessage.id).where(*_claimable(now)).order_by(OutboxMessage.send_after).limit(limit)
    async with sessionmaker.begin() as db:
        result = await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()), *_claimable(now))
            .values(claimed_until=now + LEASE)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars())


async def _release(sessionmaker: Sessionmaker, ids: list[str]) -> None:
    """Give back leases not used (the sender is stopping), so another process need not wait for them to end."""
    async with sessionmaker.begin() as db:
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.PENDING)
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )


async def _finish(sessionmaker: Sessionmaker, message_id: str, **values: object) -> None:
    async with sessionmaker.begin() as db:
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )


async def _load(sessionmaker: Sessionmaker, ids: list[str]) -> list[tuple[OutboxMessage, Booking | None]]:
    """The claimed rows with their bookings, oldest first (a row deleted meanwhile is simply missing)."""
    async with sessionmaker() as db:
        rows = await db.execute(
            select(OutboxMessage, Booking)
            .outerjoin(Booking, Booking.id == OutboxMessage.booking_id)
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.send_after)
        )
        return [(message, booking) for message, booking in rows]


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
        await _finish(
            sessionmaker, message.id, status=OutboxStatus.FAILED, last_error="SessionStarted", sealed_links=None
        )
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
        await _finish(
            sessionmaker, message.id, attempts=attempts, last_error=error, status=OutboxStatus.FAILED, sealed_links=None
        )
        log.warning("email %s (%s) failed for good after %d attempts: %s", message.id, message.kind, attempts, error)
        return
    retry_at = now + backoff(attempts)
    await _finish(sessionmaker, message.id, attempts=attempts, last_error=error, send_after=retry_at)
    log.warning("email %s (%s) not delivered (%s), attempt %d", message.id, message.kind, error, attempts)


async def _deliver(
    sessionmaker: Sessionmaker,
    settings: Settings,
    mailer: Mailer,
    keyring: Keyring,
    message: OutboxMessage,
    now: datetime,
) -> bool:
    """Deliver one claimed row, its links opened from their seal and put in, and record the outcome (the sealed
    links are dropped once it is done). True when it was delivered (or kept)."""
    try:
        email = outgoing(message, outbox.open_links(keyring, message))
    except SealError as exc:
        await _failed(sessionmaker, settings, message, exc, now, final=True)
        return False
    try:
        await mailer.deliver(email)
    except DELIVERY_ERRORS as exc:
        await _failed(sessionmaker, settings, message, exc, now, final=False)
        return False
    except Exception as exc:  # e.g. an address the email library refuses: retrying cannot help
        await _failed(sessionmaker, settings, message, exc, now, final=True)
        return False
    await _finish(
        sessionmaker,
        message.id,
        status=mailer.delivered,
        sent_at=now,
        attempts=message.attempts + 1,
        sealed_links=None,
    )
    log.info("email %s (%s) %s", message.id, message.kind, mailer.delivered.value)
    return True


async def run_once(
    sessionmaker: Sessionmaker,
    settings: Settings,
    mailer: Mailer,
    now: datetime | None = None,
    *,
    keyring: Keyring | None = None,
) -> int:
    """One round of the sender: claim the due rows, then deliver and record each. Returns how many were
    delivered. Cancelled midway (shutdown), it gives back the leases of the rows it did not get to. ``keyring``
    opens the rows' links (default: the keyring of ``settings``)."""
    now = now or utcnow()
    keyring = keyring or outbox.keyring_for(settings)
    claimed = await claim_due(sessionmaker, now)
    if not claimed:
        return 0
    delivered, pending = 0, list(claimed)
    try:
        for message, booking in await _load(sessionmaker, claimed):
            if not await _stale_reminder(sessionmaker, message, booking, now):
                delivered += await _deliver(sessionmaker, settings, mailer, keyring, message, now)
            pending.remove(message.id)
    except asyncio.CancelledError:
        with suppress(Exception):
            await asyncio.shield(_release(sessionmaker, pending))
        raise
    return delivered


def outbox_sender(poll_seconds: float = POLL_SECONDS, mailer: Mailer | None = None) -> CleanupContext:
    """A cleanup context that runs :func:`run_once` every ``poll_seconds`` (after ``database_ctx``, whose
    sessionmaker it uses, and the keyring's context, whose keyring opens the links and seals those of the booking
    emails)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[settings_key]
        keyring = app.get(keyring_key)
        if keyring is not None:
            outbox.remember_keyring(settings, keyring)
        sessionmaker, chosen = app[sessionmaker_key], mailer or mailer_for(settings)

        async def round_() -> int:
            return await run_once(sessionmaker, settings, chosen, keyring=keyring)

        async with running("outbox-sender", "outbox round", poll_seconds, round_):
            yield

    return ctx


jobs_ctx = outbox_sender()
