"""cases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "local_service",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("area", sa.String(length=100), nullable=False),
        sa.Column("contacts", sa.String(length=500), nullable=False),
        sa.Column("hours", sa.String(length=300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "case_file",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=True),
        sa.Column("citizen_name", sa.String(length=200), nullable=False),
        sa.Column("citizen_email", sa.String(length=254), nullable=False),
        sa.Column("citizen_phone", sa.String(length=40), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "epidemic_events",
                "negative_emotions",
                "impulsive_acts",
                "relational_conflict",
                "crime_victim",
                "legal_question",
                "other",
                name="reason",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum("switchboard", "online", "referral", name="channel", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("status", sa.Enum("open", "closed", name="casestatus", native_enum=False, length=10), nullable=False),
        sa.Column(
            "risk_self",
            sa.Enum("none", "low", "medium", "high", name="risklevel", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column(
            "risk_others",
            sa.Enum("none", "low", "medium", "high", name="risklevel", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("opened_at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=80), nullable=False),
        sa.Column("first_session_at", server.models.core.UTCDateTime(timezone=True), nullable=True),
        sa.Column("anonymised_at", server.models.core.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_file_citizen_email"), ["citizen_email"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_citizen_phone"), ["citizen_phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_service_id"), ["service_id"], unique=False)

    op.create_table(
        "case_worker",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("shared_by", sa.String(length=80), nullable=True),
        sa.Column("since", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "staff_id"),
    )
    with op.batch_alter_table("case_worker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_worker_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "review_decision",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_decision_case_id"), ["case_id"], unique=False)

    op.create_table(
        "safety_action",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("safety_action", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_action_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_note",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("consultation_id", sa.String(length=32), nullable=True),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultation.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_note_case_id"), ["case_id"], unique=False)

    op.create_table(
        "outcome",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("consultation_id", sa.String(length=32), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "closed_after_support",
                "further_sessions",
                "specialist",
                "referral",
                "legal_advice",
                name="outcomekind",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("specialist_id", sa.String(length=32), nullable=True),
        sa.Column("local_service_id", sa.String(length=32), nullable=True),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultation.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["local_service_id"],
            ["local_service.id"],
        ),
        sa.ForeignKeyConstraint(
            ["specialist_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.create_index("ix_outcome_case_at", ["case_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outcome_case_id"), ["case_id"], unique=False)

    op.create_table(
        "risk_assessment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("consultation_id", sa.String(length=32), nullable=True),
        sa.Column(
            "self_harm",
            sa.Enum("none", "low", "medium", "high", name="risklevel", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column(
            "others",
            sa.Enum("none", "low", "medium", "high", name="risklevel", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultation.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("risk_assessment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_assessment_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_event_subject"), ["subject"], unique=False)

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_booking_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("consultation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_consultation_case_id"), ["case_id"], unique=False)
    _append_only_audit()


# The audit log is appended to, never changed: the database refuses UPDATE and DELETE (and TRUNCATE) of its rows,
# whatever code path asks. (A later migration that rebuilds audit_event on SQLite must create these again.)
def _append_only_audit() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_append_only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{event.lower()} BEFORE {event} ON audit_event "
                "BEGIN SELECT RAISE(ABORT, 'audit_append_only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_no_change ON audit_event")
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")
    with op.batch_alter_table("consultation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_case_id"))
        batch_op.drop_column("case_id")

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_case_id"))
        batch_op.drop_column("case_id")

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_subject"))
        batch_op.drop_column("subject")

    with op.batch_alter_table("risk_assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_assessment_case_id"))

    op.drop_table("risk_assessment")
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcome_case_id"))
        batch_op.drop_index("ix_outcome_case_at")

    op.drop_table("outcome")
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_note_case_id"))

    op.drop_table("case_note")
    with op.batch_alter_table("safety_action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_action_case_id"))

    op.drop_table("safety_action")
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_decision_case_id"))

    op.drop_table("review_decision")
    with op.batch_alter_table("case_worker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_worker_staff_id"))

    op.drop_table("case_worker")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_file_service_id"))
        batch_op.drop_index(batch_op.f("ix_case_file_opened_at"))
        batch_op.drop_index(batch_op.f("ix_case_file_citizen_phone"))
        batch_op.drop_index(batch_op.f("ix_case_file_citizen_email"))

    op.drop_table("case_file")
    op.drop_table("local_service")
