"""scheduling

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "availability",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("availability", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_availability_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "availability_override",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "kind", sa.Enum("absence", "extra", name="overridekind", native_enum=False, length=20), nullable=False
        ),
        sa.Column("starts", sa.Time(), nullable=True),
        sa.Column("ends", sa.Time(), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("availability_override", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_availability_override_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "closure",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("closure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closure_day"), ["day"], unique=False)

    op.create_table(
        "meeting_series",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rrule", sa.String(length=300), nullable=False),
        sa.Column("starts_at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "opening_hours",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opening_hours", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_hours_service_id"), ["service_id"], unique=False)

    op.create_table(
        "booking",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("consultation_id", sa.String(length=32), nullable=True),
        sa.Column("starts_at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.Enum("video", "phone", name="bookingmode", native_enum=False, length=10), nullable=False),
        sa.Column(
            "status", sa.Enum("active", "cancelled", name="bookingstatus", native_enum=False, length=20), nullable=False
        ),
        sa.Column(
            "channel",
            sa.Enum("online", "switchboard", "follow_up", name="bookingchannel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("citizen_name", sa.String(length=200), nullable=False),
        sa.Column("citizen_email", sa.String(length=254), nullable=False),
        sa.Column("citizen_phone", sa.String(length=40), nullable=False),
        sa.Column("booked_by", sa.String(length=80), nullable=False),
        sa.Column("privacy_accepted_at", server.models.core.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verbal_consent_by", sa.String(length=80), nullable=True),
        sa.Column("verbal_consent_at", server.models.core.UTCDateTime(timezone=True), nullable=True),
        sa.Column("manage_token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", server.models.core.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultation.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("manage_token_hash"),
    )
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.create_index("ix_booking_operator_start", ["operator_id", "starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_booking_service_id"), ["service_id"], unique=False)

    op.create_table(
        "series_exception",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("series_id", sa.String(length=32), nullable=False),
        sa.Column("original_start", server.models.core.UTCDateTime(timezone=True), nullable=False),
        sa.Column("moved_to", server.models.core.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["series_id"], ["meeting_series.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("series_id", "original_start"),
    )
    op.create_table(
        "series_invitee",
        sa.Column("series_id", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["meeting_series.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("series_id", "staff_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ics", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=False, server_default="message"))
        batch_op.add_column(sa.Column("booking_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum("pending", "sent", "kept", "failed", name="outboxstatus", native_enum=False, length=20),
                nullable=False,
                server_default="kept",
            )
        )
        batch_op.add_column(
            sa.Column(
                "send_after",
                server.models.core.UTCDateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("claimed_until", server.models.core.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=200), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_outbox_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_send_after"), ["send_after"], unique=False)
        batch_op.create_foreign_key("fk_outbox_booking_id", "booking", ["booking_id"], ["id"], ondelete="CASCADE")

    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_minutes", sa.Integer(), nullable=False, server_default="45"))
        batch_op.add_column(sa.Column("buffer_minutes", sa.Integer(), nullable=False, server_default="15"))
        batch_op.add_column(sa.Column("min_notice_minutes", sa.Integer(), nullable=False, server_default="120"))
        batch_op.add_column(sa.Column("horizon_days", sa.Integer(), nullable=False, server_default="30"))
        batch_op.add_column(sa.Column("modes", sa.String(length=40), nullable=False, server_default="video,phone"))
        batch_op.add_column(sa.Column("disciplines", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("holiday_subdivision", sa.String(length=10), nullable=False, server_default="MI"))
        batch_op.add_column(sa.Column("bookable_online", sa.Boolean(), nullable=False, server_default=sa.true()))

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("daily_cap", sa.Integer(), nullable=True))
    _no_double_booking()


# An active booking's [starts_at, blocked_until) may not overlap another active booking of the same operator.
# PostgreSQL says so with an exclusion constraint; SQLite with triggers that abort the insert or update.
SQLITE_OVERLAP = """
SELECT RAISE(ABORT, 'booking_overlap') WHERE NEW.status = 'active' AND EXISTS (
    SELECT 1 FROM booking AS b
    WHERE b.operator_id = NEW.operator_id AND b.status = 'active' AND b.id != NEW.id
      AND b.starts_at < NEW.blocked_until AND NEW.starts_at < b.blocked_until
);
"""


def _no_double_booking() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE booking ADD CONSTRAINT booking_no_overlap EXCLUDE USING gist "
            "(operator_id WITH =, tstzrange(starts_at, blocked_until) WITH &&) WHERE (status = 'active')"
        )
    else:
        op.execute(f"CREATE TRIGGER booking_no_overlap_insert BEFORE INSERT ON booking BEGIN {SQLITE_OVERLAP} END")
        op.execute(
            "CREATE TRIGGER booking_no_overlap_update BEFORE UPDATE OF starts_at, blocked_until, status, operator_id "
            f"ON booking BEGIN {SQLITE_OVERLAP} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE booking DROP CONSTRAINT booking_no_overlap")
    else:
        op.execute("DROP TRIGGER booking_no_overlap_insert")
        op.execute("DROP TRIGGER booking_no_overlap_update")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("daily_cap")

    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.drop_column("bookable_online")
        batch_op.drop_column("holiday_subdivision")
        batch_op.drop_column("disciplines")
        batch_op.drop_column("modes")
        batch_op.drop_column("horizon_days")
        batch_op.drop_column("min_notice_minutes")
        batch_op.drop_column("buffer_minutes")
        batch_op.drop_column("session_minutes")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_outbox_booking_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_send_after"))
        batch_op.drop_index(batch_op.f("ix_outbox_booking_id"))
        batch_op.drop_column("last_error")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("attempts")
        batch_op.drop_column("send_after")
        batch_op.drop_column("status")
        batch_op.drop_column("booking_id")
        batch_op.drop_column("kind")
        batch_op.drop_column("ics")

    op.drop_table("series_invitee")
    op.drop_table("series_exception")
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_service_id"))
        batch_op.drop_index("ix_booking_operator_start")

    op.drop_table("booking")
    with op.batch_alter_table("opening_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_hours_service_id"))

    op.drop_table("opening_hours")
    op.drop_table("meeting_series")
    with op.batch_alter_table("closure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closure_day"))

    op.drop_table("closure")
    with op.batch_alter_table("availability_override", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_availability_override_staff_id"))

    op.drop_table("availability_override")
    with op.batch_alter_table("availability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_availability_staff_id"))

    op.drop_table("availability")
    op.drop_table("idempotency_record")
