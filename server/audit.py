"""The audit log: who read or changed which record, and when. It never holds the content itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import AuditEvent


def event(actor: str, action: str, object_type: str, object_id: str, *, subject: str | None = None) -> AuditEvent:
    """An audit event, for a caller that writes it with other rows (:func:`server.db.insert_now`). ``subject``:
    the case whose data was touched, so that one citizen's accesses can be listed."""
    return AuditEvent(actor=actor, action=action, object_type=object_type, object_id=object_id, subject=subject)


def record(
    db: AsyncSession, actor: str, action: str, object_type: str, object_id: str, *, subject: str | None = None
) -> None:
    """Add an audit event to the caller's transaction, so it commits (or not) with the change it describes."""
    db.add(event(actor, action, object_type, object_id, subject=subject))
