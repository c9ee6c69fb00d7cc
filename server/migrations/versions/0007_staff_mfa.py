"""staff mfa: TOTP secrets (sealed), one-time recovery codes (hashed), logins waiting for their second factor

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_mfa",
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("confirmed_at", server.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", server.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("staff_id"),
    )
    op.create_table(
        "mfa_recovery_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("used_at", server.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_index("ix_mfa_recovery_code_staff_id", "mfa_recovery_code", ["staff_id"])
    op.create_table(
        "mfa_pending_login",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("next_url", sa.String(length=500), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", server.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_mfa_pending_login_staff_id", "mfa_pending_login", ["staff_id"])


def downgrade() -> None:
    op.drop_index("ix_mfa_pending_login_staff_id", table_name="mfa_pending_login")
    op.drop_table("mfa_pending_login")
    op.drop_index("ix_mfa_recovery_code_staff_id", table_name="mfa_recovery_code")
    op.drop_table("mfa_recovery_code")
    op.drop_table("staff_mfa")
