"""The outbox sender: exactly once with racing senders, cancelled and moved bookings, a clean start and stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
from aiohttp import web
from sqlalchemy import update

from scheduling.jobs import LEASE, claim_due, outbox_sender, run_once
from scheduling.mail import KeepingMailer, SmtpMailer
from scheduling.notify import enqueue_cancellation, enqueue_moved
from server.db import database_ctx
from server.keys import settings_key
from server.models import Booking, BookingStatus, OutboxStatus
from server.settings import Settings
from tests.helpers.factories import seed_booking
from tests.helpers.mail import enqueue, outbox, smtp_server
from tests.helpers.services import open_db

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def test_a_reminder_is_sent_exactly_once_by_two_racing_processes(database_url: str, tmp_path: Path) -> None:
    with smtp_server() as (port, sink):
        settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        # Two engines on one database: two server processes.
        async with open_db(database_url, tmp_path) as first, open_db(database_url, tmp_path) as second:
            bookings = [await seed_booking(first, NOW + timedelta(days=2, hours=i)) for i in range(3)]
            for booking in bookings:
                await enqueue(first, settings, booking, NOW)
            mailer = SmtpMailer(settings)
            sent = await asyncio.gather(run_once(first, settings, mailer, NOW), run_once(second, settings, mailer, NOW))
            assert sum(sent) == 3  # the three confirmations
            reminder_time = bookings[0].starts_at - timedelta(hours=24)
            sent = await asyncio.gather(
                run_once(first, settings, mailer, reminder_time), run_once(second, settings, mailer, reminder_time)
            )
            assert sum(sent) == 1
            # Later rounds find nothing more to send for that hour.
            assert await run_once(second, settings, mailer, reminder_time + timedelta(minutes=1)) == 0
            rows = await outbox(first)
    subjects = [m["Subject"] for m in sink.messages]
    assert subjects.count("Il suo appuntamento è confermato") == 3
    assert subjects.count("Promemoria del suo appuntamento") == 1
    sent_rows = [r for r in rows if r.status == OutboxStatus.SENT]
    assert len(sent_rows) == 4 and all(r.attempts == 1 for r in sent_rows)


async def test_a_claim_is_exclusive_until_its_lease_ends(database_url: str, tmp_path: Path) -> None:
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, NOW + timedelta(days=2))
        await enqueue(sm, Settings(data_dir=tmp_path, reminder_hours=()), booking, NOW)
        [row] = await outbox(sm)
        results = await asyncio.gather(*(claim_due(sm, NOW) for _ in range(5)))
        assert sorted(results) == [[], [], [], [], [row.id]]
        assert await claim_due(sm, NOW + LEASE - timedelta(seconds=1)) == []
        # A sender that died mid-send leaves the row to be claimed again after the lease.
        assert await claim_due(sm, NOW + LEASE + timedelta(seconds=1)) == [row.id]


class StuckMailer(KeepingMailer):
    """A mailer whose first delivery never ends (an SMTP server that stopped answering)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def deliver(self, message: object) -> None:
        self.started.set()
        await asyncio.Event().wait()


async def test_a_sender_stopped_mid_round_gives_back_its_claims(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, reminder_hours=())
    async with open_db(database_url, tmp_path) as sm:
        for i in range(3):
            await enqueue(sm, settings, await seed_booking(sm, NOW + timedelta(days=2, hours=i)), NOW)
        mailer = StuckMailer()
        round_ = asyncio.create_task(run_once(sm, settings, mailer, NOW))
        await asyncio.wait_for(mailer.started.wait(), 10)
        round_.cancel()
        with pytest.raises(asyncio.CancelledError):
            await round_
        rows = await outbox(sm)
        assert len(rows) == 3 and all(r.claimed_until is None and r.status == OutboxStatus.PENDING for r in rows)
        # Another process takes them at once, without waiting for the lease to end.
        assert sorted(await claim_due(sm, NOW + timedelta(seconds=1))) == sorted(r.id for r in rows)


async def test_reminders_of_a_cancelled_booking_are_never_sent(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    mailer = KeepingMailer()
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, NOW + timedelta(days=2))
        await enqueue(sm, settings, booking, NOW)
        assert await run_once(sm, settings, mailer, NOW) == 1
        async with sm.begin() as db:
            await db.execute(
                update(Booking).where(Booking.id == booking.id).values(status=BookingStatus.CANCELLED, cancelled_at=NOW)
            )
            booking.status = BookingStatus.CANCELLED
            await enqueue_cancellation(db, settings, booking, now=NOW)
        assert await run_once(sm, settings, mailer, booking.starts_at) == 1  # the cancellation only
        rows = await outbox(sm)
        assert sorted(r.kind for r in rows) == ["cancellation", "confirmation"]
        cancellation = next(r for r in rows if r.kind == "cancellation")
        assert cancellation.ics is not None
        calendar = icalendar.Calendar.from_ical(cancellation.ics)
        assert str(calendar["method"]) == "CANCEL"
        assert calendar.walk("VEVENT")[0]["sequence"] == 1


async def test_a_reminder_left_behind_by_a_cancellation_is_dropped(database_url: str, tmp_path: Path) -> None:
    """Even when a booking is cancelled without :func:`enqueue_cancellation`, its reminders do not go out."""
    settings = Settings(data_dir=tmp_path)
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, NOW + timedelta(days=2))
        await enqueue(sm, settings, booking, NOW)
        async with sm.begin() as db:
            await db.execute(update(Booking).where(Booking.id == booking.id).values(status=BookingStatus.CANCELLED))
        assert await run_once(sm, settings, KeepingMailer(), booking.starts_at - timedelta(minutes=30)) == 1
        assert [r.kind for r in await outbox(sm)] == ["confirmation"]


async def test_moving_replaces_the_reminders_and_bumps_the_sequence(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, NOW + timedelta(days=2))
        await enqueue(sm, settings, booking, NOW)
        new_start = NOW + timedelta(days=5)
        async with sm.begin() as db:
            moved = await db.get(Booking, booking.id)
            assert moved is not None
            moved.starts_at, moved.ends_at = new_start, new_start + timedelta(minutes=45)
            moved.blocked_until = new_start + timedelta(hours=1)
            await db.flush()
            await enqueue_moved(db, settings, moved, join_link="http://t/j", manage_link="http://t/m", now=NOW)
        rows = await outbox(sm)
        reminders = sorted((r.kind, r.send_after) for r in rows if r.kind.startswith("reminder_"))
        assert reminders == [
            ("reminder_1h", new_start - timedelta(hours=1)),
            ("reminder_24h", new_start - timedelta(hours=24)),
        ]
        moved_row = next(r for r in rows if r.kind == "moved")
        assert moved_row.ics is not None
        event = icalendar.Calendar.from_ical(moved_row.ics).walk("VEVENT")[0]
        assert event["sequence"] == 1
        assert event.decoded("dtstart") == new_start
        assert moved_row.subject == "Il suo appuntamento è stato spostato"


async def test_a_reminder_whose_session_started_is_not_sent(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, reminder_hours=(24,))
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, NOW + timedelta(days=2))
        await enqueue(sm, settings, booking, NOW)
        # The server was down until after the session started.
        assert await run_once(sm, settings, KeepingMailer(), booking.starts_at + timedelta(minutes=5)) == 1
        rows = {r.kind: r for r in await outbox(sm)}
        assert rows["reminder_24h"].status == OutboxStatus.FAILED
        assert rows["reminder_24h"].last_error == "SessionStarted"


async def test_the_sender_runs_in_the_background_and_stops_cleanly(database_url: str, tmp_path: Path) -> None:
    with smtp_server() as (port, sink):
        settings = Settings(database_url=database_url, data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        async with open_db(database_url, tmp_path) as sm:
            booking = await seed_booking(sm, datetime.now(UTC) + timedelta(days=2))
            await enqueue(sm, settings, booking, datetime.now(UTC))
        app = web.Application()
        app[settings_key] = settings
        app.cleanup_ctx.append(database_ctx)
        app.cleanup_ctx.append(outbox_sender(poll_seconds=0.05))
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            for _ in range(200):
                if sink.messages:
                    break
                await asyncio.sleep(0.05)
        finally:
            await runner.cleanup()
        assert len(sink.messages) == 1
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "outbox-sender"]
