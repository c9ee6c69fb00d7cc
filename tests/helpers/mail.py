"""Email as it leaves the server: a real SMTP server on 127.0.0.1 that keeps what it receives, a booking's emails
written to the outbox, the outbox read back."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduling.notify import booking_emails
from server.db import insert_now
from server.models import Booking, OutboxMessage, Service
from server.settings import Settings
from tests.helpers.ports import free_port
from tests.helpers.services import Sessionmaker


class SmtpSink:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[int, SmtpSink]]:
    """A real SMTP server on 127.0.0.1 (its own thread), yielding its port and the messages it received."""
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield controller.port, sink
    finally:
        controller.stop()


async def enqueue_booking_emails(
    db: AsyncSession, settings: Settings, booking: Booking, *, join_link: str, manage_link: str, **kw: Any
) -> None:
    """Write the emails of a booking already added to ``db``, as booking does for a new one."""
    await db.flush()
    service = await db.get(Service, booking.service_id)
    assert service is not None
    await insert_now(
        db, *booking_emails(settings, booking, service, join_link=join_link, manage_link=manage_link, **kw)
    )


async def enqueue(sm: Sessionmaker, settings: Settings, booking: Booking, now: datetime, **kw: Any) -> None:
    async with sm.begin() as db:
        await enqueue_booking_emails(
            db, settings, booking, join_link="http://t/join/abc", manage_link="http://t/booking/xyz", now=now, **kw
        )


async def outbox(sm: Sessionmaker) -> list[OutboxMessage]:
    async with sm() as db:
        return list(await db.scalars(select(OutboxMessage).order_by(OutboxMessage.send_after)))
