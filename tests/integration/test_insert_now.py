"""insert_now: new rows written without the unit of work, in one statement on PostgreSQL, one per table elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.db import create_engine, insert_now, make_sessionmaker, migrate
from server.models import AuditEvent, Consultation, OutboxMessage, Role, Staff
from server.settings import Settings

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _consultation(operator: Staff, token_hash: str) -> Consultation:
    return Consultation(operator_id=operator.id, citizen_name="Maria", starts_at=AT, ends_at=AT, token_hash=token_hash)


async def test_rows_that_refer_to_each_other_are_written_with_their_defaults(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(Settings(database_url=database_url, data_dir=tmp_path))
    await migrate(engine)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as db:
            operator = Staff(id="op", email="op@x.org", name="Op", role=Role.OPERATOR, password_hash="x")
            db.add(operator)  # pending in the session: flushed first
            consultation = _consultation(operator, "a")
            message = OutboxMessage(to_address="m@x.org", subject="s", body="b")
            await insert_now(db, consultation, AuditEvent(actor="t", action="create", object_type="c", object_id="1"))
            message.consultation_id = consultation.id  # the default id is known at once
            await insert_now(db, message, OutboxMessage(to_address="n@x.org", subject="s", body="b"))
        assert consultation.id and message.id and message.status.value == "pending"
        async with sessionmaker() as db:
            stored = await db.get(OutboxMessage, message.id)
            assert stored is not None and stored.consultation_id == consultation.id
            assert await db.scalar(select(func.count()).select_from(OutboxMessage)) == 2
            assert (await db.get(Consultation, consultation.id)) is not None
        # A refused row (the token hash is unique) writes none of the statement's rows.
        with pytest.raises(IntegrityError):
            async with sessionmaker.begin() as db:
                event = AuditEvent(actor="t", action="create", object_type="c", object_id="2")
                await insert_now(db, event, _consultation(operator, "a"))
        async with sessionmaker() as db:
            assert await db.scalar(select(func.count()).select_from(AuditEvent)) == 1
    finally:
        await engine.dispose()
