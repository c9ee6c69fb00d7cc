"""stats indexes: consultations by start, for the statistics of a period (docs/cases.md)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_consultation_starts_at", "consultation", ["starts_at"])


def downgrade() -> None:
    op.drop_index("ix_consultation_starts_at", table_name="consultation")
