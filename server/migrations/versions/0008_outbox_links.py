"""outbox links: no usable citizen link in the outbox; the links of a message waiting to be sent are sealed

Adds ``outbox.sealed_links`` (a message's links, sealed with the application's keyring until it is sent) and
redacts the links already in the table: the secret segment after ``/join/``, ``/booking/`` or
``/api/v1/bookings/`` in a body or an ``.ics`` becomes ``••••``. Those links are lost (a migration holds no key to
seal them): a message still waiting goes out with its link redacted, and the citizen can ask for a new link (the
confirmation they were sent keeps working). The downgrade drops the column; it cannot bring the links back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

REDACTED = "••••"
SECRET_SEGMENT = re.compile(r"(/join/|/booking/|/api/v1/bookings/)[^\s/?#\"'<>]+")
FOLD = re.compile(r"\r?\n[ \t]")

outbox = sa.table("outbox", sa.column("id", sa.String), sa.column("body", sa.Text), sa.column("ics", sa.Text))


def _redact(text: str) -> str:
    return SECRET_SEGMENT.sub(lambda m: m.group(1) + REDACTED, text)


def _fold(line: str, limit: int = 75) -> str:
    """An iCalendar content line folded at ``limit`` octets, never inside a UTF-8 character, with its CRLF."""
    data = line.encode()
    parts, start, room = [], 0, limit
    while start < len(data):
        end = min(start + room, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        parts.append(data[start:end].decode())
        start, room = end, limit - 1
    return "\r\n ".join(parts) + "\r\n"


def _redact_ics(ics: str) -> str:
    """Unfold (a link may be split over two lines), redact, fold again."""
    lines = FOLD.sub("", ics).splitlines()
    return "".join(_fold(_redact(line)) for line in lines)


def upgrade() -> None:
    op.add_column("outbox", sa.Column("sealed_links", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(outbox.c.id, outbox.c.body, outbox.c.ics)).all()
    for row_id, body, ics in rows:
        new_body = _redact(body)
        new_ics = _redact_ics(ics) if ics else ics
        if new_body != body or new_ics != ics:
            connection.execute(outbox.update().where(outbox.c.id == row_id).values(body=new_body, ics=new_ics))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("sealed_links")
