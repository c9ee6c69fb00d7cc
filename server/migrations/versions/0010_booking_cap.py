"""booking cap: the daily cap of an operator is enforced by the database

Adds ``booking_day`` (operator, local day, how many active bookings, the cap they were last checked against),
with a check constraint that refuses a count over the cap. It is filled from the active bookings already there,
with no cap (``cap`` NULL), so that an operator already over a lowered cap can still be cancelled or moved; the
next booking of that day copies the operator's cap in and is refused if it would go over it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROME = ZoneInfo("Europe/Rome")  # the local day of the cap (scheduling.slots.local_day)

booking = sa.table(
    "booking",
    sa.column("operator_id", sa.String),
    sa.column("starts_at", sa.DateTime(timezone=True)),
    sa.column("status", sa.String),
)


def _local_day(instant: datetime) -> object:
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)  # SQLite drops the offset
    return aware.astimezone(ROME).date()


def upgrade() -> None:
    table = op.create_table(
        "booking_day",
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=True),
        sa.CheckConstraint("cap IS NULL OR booked <= cap", name="ck_booking_day_cap"),
        sa.ForeignKeyConstraint(["operator_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("operator_id", "day"),
    )
    active = op.get_bind().execute(
        sa.select(booking.c.operator_id, booking.c.starts_at).where(booking.c.status == "active")
    )
    counts = Counter((operator_id, _local_day(starts_at)) for operator_id, starts_at in active)
    if counts:
        rows = [{"operator_id": o, "day": d, "booked": n, "cap": None} for (o, d), n in sorted(counts.items())]
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("booking_day")
