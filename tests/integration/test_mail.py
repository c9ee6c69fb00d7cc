"""Email through a real local SMTP server (aiosmtpd): the confirmation with its .ics, retries, the outbox fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar

from scheduling.jobs import backoff, run_once
from scheduling.mail import KeepingMailer, SmtpMailer, mailer_for
from server.consultations import WindowState, create_consultation, exchange_token
from server.models import (
    Booking,
    BookingChannel,
    BookingMode,
    OutboxStatus,
    Role,
    Staff,
)
from server.settings import Settings
from tests.helpers.factories import seed_booking
from tests.helpers.mail import enqueue, enqueue_booking_emails, outbox, smtp_server
from tests.helpers.ports import free_port
from tests.helpers.services import open_db


async def test_confirmation_arrives_with_the_ics_and_a_join_link_that_works(database_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with open_db(database_url, tmp_path) as sm:
        async with sm.begin() as db:
            operator = Staff(id="op", email="op@x.org", name="Op", role=Role.OPERATOR, password_hash="x")
            db.add(operator)
        with smtp_server() as (port, sink):
            settings = Settings(
                data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port, mail_from="noreply@ascolto.test"
            )
            new = await create_consultation(sm, settings, operator=operator, citizen_name="Maria", starts_at=now)
            booking = await seed_booking(sm, now + timedelta(minutes=5), consultation_id=new.consultation.id)
            join_link = f"http://127.0.0.1:8080/join/{new.token}"
            async with sm.begin() as db:
                await enqueue_booking_emails(db, settings, booking, join_link=join_link, manage_link="http://t/b/x")
            assert await run_once(sm, settings, SmtpMailer(settings)) == 1
            assert len(sink.messages) == 1
        message = sink.messages[0]
        assert message["To"] == "maria@example.org"
        assert message["Subject"] == "Il suo appuntamento è confermato"
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert join_link in text and "http://t/b/x" in text
        assert "02 1111" in text and "112" in text and "(ora di Roma)" in text
        attachments = list(message.iter_attachments())
        assert [a.get_content_type() for a in attachments] == ["text/calendar"]
        assert attachments[0].get_param("method") == "PUBLISH"
        ics = attachments[0].get_content()
        assert isinstance(ics, str)
        calendar = icalendar.Calendar.from_ical(ics)
        event = calendar.walk("VEVENT")[0]
        assert str(event["url"]) == join_link
        assert event.decoded("dtstart") == booking.starts_at.replace(microsecond=0)
        assert str(event["summary"]) == "Appuntamento"
        # The link in the email is the consultation's: its token opens the waiting room.
        token = text.split(join_link.rsplit("/", 1)[0] + "/", 1)[1].split()[0]
        exchange = await exchange_token(sm, settings, token)
        assert exchange.state == WindowState.OPEN
        rows = await outbox(sm)
        assert rows[0].status == OutboxStatus.SENT and rows[0].attempts == 1


async def test_without_smtp_messages_are_kept_in_the_outbox(database_url: str, tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    settings = Settings(data_dir=tmp_path)
    assert isinstance(mailer_for(settings), KeepingMailer)
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, now + timedelta(hours=2))
        await enqueue(sm, settings, booking, now)
        assert await run_once(sm, settings, mailer_for(settings), now) == 1
        rows = await outbox(sm)
        # The confirmation is kept for staff to read; the 1 h reminder waits for its time; the 24 h one was past.
        assert [(r.kind, r.status) for r in rows] == [
            ("confirmation", OutboxStatus.KEPT),
            ("reminder_1h", OutboxStatus.PENDING),
        ]
        assert rows[1].send_after == booking.starts_at - timedelta(hours=1)


async def test_smtp_down_is_retried_later_and_nothing_is_lost(database_url: str, tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    port = free_port()  # nothing listens there yet
    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port)
    mailer = SmtpMailer(settings)
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, now + timedelta(days=3))
        await enqueue(sm, settings, booking, now)
        assert await run_once(sm, settings, mailer, now) == 0
        [confirmation] = [r for r in await outbox(sm) if r.kind == "confirmation"]
        assert confirmation.status == OutboxStatus.PENDING
        assert confirmation.attempts == 1 and confirmation.last_error
        assert confirmation.send_after == now + backoff(1)
        assert confirmation.claimed_until is None
        # Not due again before the backoff ends.
        assert await run_once(sm, settings, mailer, now + timedelta(seconds=30)) == 0
        with smtp_server(port) as (_, sink):
            assert await run_once(sm, settings, mailer, now + backoff(1)) == 1
        assert len(sink.messages) == 1
        [confirmation] = [r for r in await outbox(sm) if r.kind == "confirmation"]
        assert confirmation.status == OutboxStatus.SENT and confirmation.attempts == 2


async def test_gives_up_after_the_last_attempt(database_url: str, tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    settings = Settings(
        data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=free_port(), mail_max_attempts=3, reminder_hours=()
    )
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, now + timedelta(days=3))
        await enqueue(sm, settings, booking, now)
        at = now
        for _ in range(3):
            await run_once(sm, settings, SmtpMailer(settings), at)
            at += timedelta(hours=3)
        [row] = await outbox(sm)
        assert row.status == OutboxStatus.FAILED and row.attempts == 3
        assert await run_once(sm, settings, SmtpMailer(settings), at + timedelta(days=1)) == 0


async def test_english_and_no_email_for_a_phone_only_booking(database_url: str, tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    settings = Settings(data_dir=tmp_path)
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
        await enqueue(sm, settings, booking, now, lang="en")
        phone_only = await seed_booking(sm, now + timedelta(days=2), email_address="")
        await enqueue(sm, settings, phone_only, now)
        rows = await outbox(sm)
        assert {r.booking_id for r in rows} == {booking.id}
        confirmation = next(r for r in rows if r.kind == "confirmation")
        assert confirmation.subject == "Your appointment is confirmed"
        assert "Monday 7 December, 10:30 (Rome time)" in confirmation.body


async def test_a_message_that_cannot_be_built_fails_at_once_and_does_not_block_the_others(
    database_url: str, tmp_path: Path
) -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with smtp_server() as (port, sink):
        settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port, reminder_hours=())
        async with open_db(database_url, tmp_path) as sm:
            broken = await seed_booking(sm, now + timedelta(days=2), email_address="a@b\nBcc: x@y")
            fine = await seed_booking(sm, now + timedelta(days=3))
            await enqueue(sm, settings, broken, now - timedelta(seconds=1))
            await enqueue(sm, settings, fine, now)
            assert await run_once(sm, settings, SmtpMailer(settings), now) == 1
            rows = {r.booking_id: r for r in await outbox(sm)}
    assert len(sink.messages) == 1 and sink.messages[0]["To"] == "maria@example.org"
    assert rows[broken.id].status == OutboxStatus.FAILED and rows[broken.id].attempts == 1
    assert rows[fine.id].status == OutboxStatus.SENT


async def test_emails_can_be_queued_in_the_booking_transaction(database_url: str, tmp_path: Path) -> None:
    """The caller may queue the emails right after ``db.add(booking)``, before any flush."""
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    async with open_db(database_url, tmp_path) as sm:
        first = await seed_booking(sm, now + timedelta(days=1))
        async with sm.begin() as db:
            booking = Booking(
                service_id="s",
                operator_id="op",
                starts_at=first.starts_at + timedelta(days=1),
                ends_at=first.starts_at + timedelta(days=1, minutes=45),
                blocked_until=first.starts_at + timedelta(days=1, minutes=60),
                mode=BookingMode.VIDEO,
                channel=BookingChannel.SWITCHBOARD,
                citizen_name="Luca",
                citizen_email="luca@example.org",
                booked_by="staff:op",
                manage_token_hash="new",
            )
            db.add(booking)
            await enqueue_booking_emails(
                db, Settings(data_dir=tmp_path), booking, join_link="j", manage_link="m", now=now
            )
        rows = [r for r in await outbox(sm) if r.booking_id == booking.id]
        assert sorted(r.kind for r in rows) == ["confirmation", "reminder_1h", "reminder_24h"]
