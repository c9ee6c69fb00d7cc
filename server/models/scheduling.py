"""Scheduling models: opening hours, closures, operator availability, bookings, recurring team meetings.

Wall-clock rules (opening hours, availability) are local times in Europe/Rome; instants (bookings) are UTC.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.core import Base, UTCDateTime, _values, new_id, utcnow


class OpeningHours(Base):
    """One opening range of a service on a weekday (0 = Monday); a day may have several."""

    __tablename__ = "opening_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)


class Closure(Base):
    """An extra closure day, for one service or (service_id None) for all; public holidays come from `holidays`."""

    __tablename__ = "closure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str | None] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), default=None)
    day: Mapped[date] = mapped_column(Date, index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")


class Availability(Base):
    """An operator's weekly availability: a range on a weekday (0 = Monday), local time."""

    __tablename__ = "availability"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)


class OverrideKind(enum.StrEnum):
    ABSENCE = "absence"  # not available (the whole day when starts/ends are None)
    EXTRA = "extra"  # available beyond the weekly hours


class AvailabilityOverride(Base):
    __tablename__ = "availability_override"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[OverrideKind] = mapped_column(
        Enum(OverrideKind, native_enum=False, length=20, values_callable=_values)
    )
    starts: Mapped[time | None] = mapped_column(Time, default=None)
    ends: Mapped[time | None] = mapped_column(Time, default=None)


class BookingStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class BookingMode(enum.StrEnum):
    VIDEO = "video"
    PHONE = "phone"


class BookingChannel(enum.StrEnum):
    ONLINE = "online"  # the citizen, on the public page
    SWITCHBOARD = "switchboard"  # staff, on a caller's behalf
    FOLLOW_UP = "follow_up"  # an operator, after a session


class Booking(Base):
    """A booked session. It becomes a consultation (the join link, waiting room and call of the 1:1 issue).

    Double bookings are impossible in the database: an active booking's [starts_at, blocked_until) may not
    overlap another active booking of the same operator (a PostgreSQL exclusion constraint; a SQLite trigger).
    ``blocked_until`` is the end plus the service's buffer.
    """

    __tablename__ = "booking"
    __table_args__ = (Index("ix_booking_operator_start", "operator_id", "starts_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id"), index=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    consultation_id: Mapped[str | None] = mapped_column(ForeignKey("consultation.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    mode: Mapped[BookingMode] = mapped_column(Enum(BookingMode, native_enum=False, length=10, values_callable=_values))
    status: Mapped[BookingStatus] = mapped_column(
        Enum(BookingStatus, native_enum=False, length=20, values_callable=_values), default=BookingStatus.ACTIVE
    )
    channel: Mapped[BookingChannel] = mapped_column(
        Enum(BookingChannel, native_enum=False, length=20, values_callable=_values)
    )
    citizen_name: Mapped[str] = mapped_column(String(200))
    citizen_email: Mapped[str] = mapped_column(String(254), default="")
    citizen_phone: Mapped[str] = mapped_column(String(40), default="")
    booked_by: Mapped[str] = mapped_column(String(80))  # "citizen" or "staff:<id>"
    privacy_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    verbal_consent_by: Mapped[str | None] = mapped_column(String(80), default=None)  # "staff:<id>"
    verbal_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # the cancel/reschedule link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The case it belongs to; not a foreign key: adding one would make SQLite rebuild this table and lose the
    # triggers that forbid double bookings (server.cases keeps the link right).
    case_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)


class BookingDay(Base):
    """How many active bookings an operator has on a local day (Europe/Rome): the arbiter of the daily cap.

    :mod:`scheduling.booking` keeps it with every write of a booking, in the same transaction: one
    ``INSERT ... ON CONFLICT DO UPDATE`` adds one (or takes one away on cancel and move) and copies the operator's
    current ``daily_cap`` into ``cap``. The row lock of that upsert serialises concurrent bookings of one operator
    and day, and the check constraint refuses the one that would go over the cap (``cap`` None: no cap).
    """

    __tablename__ = "booking_day"
    __table_args__ = (CheckConstraint("cap IS NULL OR booked <= cap", name="ck_booking_day_cap"),)

    operator_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    cap: Mapped[int | None] = mapped_column(Integer, default=None)


class IdempotencyRecord(Base):
    """The first answer to a POST with an Idempotency-Key, replayed for the same key and body."""

    __tablename__ = "idempotency_record"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MeetingSeries(Base):
    """A recurring team meeting (RFC 5545 RRULE from ``starts_at``, in Europe/Rome wall-clock time)."""

    __tablename__ = "meeting_series"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    rrule: Mapped[str] = mapped_column(String(300))  # e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=TH
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the first occurrence
    minutes: Mapped[int] = mapped_column(Integer, default=90)
    created_by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SeriesInvitee(Base):
    __tablename__ = "series_invitee"

    series_id: Mapped[str] = mapped_column(ForeignKey("meeting_series.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)


class SeriesException(Base):
    """One occurrence skipped (``moved_to`` None) or moved."""

    __tablename__ = "series_exception"
    __table_args__ = (UniqueConstraint("series_id", "original_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    series_id: Mapped[str] = mapped_column(ForeignKey("meeting_series.id", ondelete="CASCADE"))
    original_start: Mapped[datetime] = mapped_column(UTCDateTime)
    moved_to: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
