"""The audit log: who read or changed which record, and when. It never holds the content itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import insert_now
from server.models import AuditEvent


def record(db: AsyncSession, actor: str, action: str, object_type: str, object_id: str) -> None:
    """Add an audit event to the caller's transaction, so it commits (or not) with the change it describes."""
    db.add(AuditEvent(actor=actor, action=action, object_type=object_type, object_id=object_id))


async def record_now(db: AsyncSession, actor: str, action: str, object_type: str, object_id: str) -> None:
    """:func:`record`, written at once without the unit of work (see :func:`server.db.insert_now`): for hot paths
    that write their other rows that way too."""
    await insert_now(db, AuditEvent(actor=actor, action=action, object_type=object_type, object_id=object_id))
