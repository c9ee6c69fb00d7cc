"""case suggestions: "possibly the same person", instead of merging contacts by email or phone (docs/cases.md)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_suggestion",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("new_case_id", sa.String(length=32), nullable=False),
        sa.Column("matched_on", sa.String(length=12), nullable=False),
        sa.Column("at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dismissed_by", sa.String(length=80), nullable=True),
        sa.Column("dismissed_at", server.models.core.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["new_case_id"], ["case_file.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "new_case_id", name="uq_case_suggestion_pair"),
    )
    op.create_index("ix_case_suggestion_case_id", "case_suggestion", ["case_id"])
    op.create_index("ix_case_suggestion_new_case_id", "case_suggestion", ["new_case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_suggestion_new_case_id", table_name="case_suggestion")
    op.drop_index("ix_case_suggestion_case_id", table_name="case_suggestion")
    op.drop_table("case_suggestion")
