"""Outgoing email. Rows added here are delivered by the outbox sender (:mod:`scheduling.jobs`): through SMTP
when ``smtp_host`` is set, else kept in the outbox table (status KEPT), where staff can read them, so nothing is
lost. Booking emails are queued by :mod:`scheduling.notify`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit import record
from server.models import OutboxMessage


async def enqueue(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    to: str,
    subject: str,
    body: str,
    consultation_id: str | None = None,
    actor: str,
) -> OutboxMessage:
    message = OutboxMessage(to_address=to, subject=subject, body=body, consultation_id=consultation_id)
    async with sessionmaker.begin() as db:
        db.add(message)
        await db.flush()
        record(db, actor, "email", "outbox", message.id)
    return message


async def for_consultation(sessionmaker: async_sessionmaker[AsyncSession], consultation_id: str) -> list[OutboxMessage]:
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.consultation_id == consultation_id)
            .order_by(OutboxMessage.created_at)
        )
        return list(rows)
