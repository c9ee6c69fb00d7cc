"""The audit log: who read or changed which record, and when. It never holds the content itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import AuditEvent


def record(db: AsyncSession, actor: str, action: str, object_type: str, object_id: str) -> None:
    """Add an audit event to the caller's transaction, so it commits (or not) with the change it describes."""
    db.add(AuditEvent(actor=actor, action=action, object_type=object_type, object_id=object_id))
