"""The audit log: who read or changed which record, and when. It never holds the content itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import AuditEvent


def event(actor: str, action: str, object_type: str, object_id: str) -> AuditEvent:
    """An audit event, for a caller that writes it with other rows (:func:`server.db.insert_now`)."""
    return AuditEvent(actor=actor, action=action, object_type=object_type, object_id=object_id)


def record(db: AsyncSession, actor: str, action: str, object_type: str, object_id: str) -> None:
    """Add an audit event to the caller's transaction, so it commits (or not) with the change it describes."""
    db.add(event(actor, action, object_type, object_id))
