"""login throttle: attempts counted before the password is checked, growing waits instead of locks

The table is made anew (its rows are short-lived counts, not data): ``failures`` and ``window_start`` give way
to ``attempts``, ``last_at`` (the last counted attempt) and ``waits_until`` (no attempt before this); keys are
now per account, per account and address, and per address (see ``server.throttle``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("login_throttle")
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("waits_until", server.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
