"""Core models: staff and their sessions, services, consultations, the outbox, the audit log."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _values(enum_type: type[enum.StrEnum]) -> list[str]:
    return [member.value for member in enum_type]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return secrets.token_hex(12)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    SWITCHBOARD = "switchboard"
    COORDINATOR = "coordinator"


class ConsultationStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    ENDED = "ended"


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20, values_callable=_values))
    discipline: Mapped[str] = mapped_column(String(100), default="")
    daily_cap: Mapped[int | None] = mapped_column(Integer, default=None)  # most sessions a day; None: no cap
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffSession(Base):
    """A server-side staff session. The cookie holds a random secret; only its SHA-256 is stored."""

    __tablename__ = "staff_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff: Mapped[Staff] = relationship(lazy="raise_on_sql")


class LoginThrottle(Base):
    """Login attempts counted under one key (a hashed account, account and address, or address; see
    :mod:`server.throttle`) since it was last quiet for ``login_window_minutes``, and until when it waits."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # the last counted attempt
    waits_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # no attempt before this


class Service(Base):
    __tablename__ = "service"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # Booking rules (see scheduling.slots): session length and the buffer after it, how soon and how far ahead
    # citizens may book, which modes are offered and which disciplines may take it.
    session_minutes: Mapped[int] = mapped_column(Integer, default=45)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=15)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=120)
    horizon_days: Mapped[int] = mapped_column(Integer, default=30)
    modes: Mapped[str] = mapped_column(String(40), default="video,phone")  # comma-separated BookingMode values
    disciplines: Mapped[str] = mapped_column(String(300), default="")  # comma-separated; empty: any operator
    holiday_subdivision: Mapped[str] = mapped_column(String(10), default="MI")  # the `holidays` IT subdivision
    bookable_online: Mapped[bool] = mapped_column(default=True)


class Consultation(Base):
    """A video consultation between one operator and one citizen, within a time window."""

    __tablename__ = "consultation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    operator_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    service_id: Mapped[str | None] = mapped_column(ForeignKey("service.id"), default=None)
    citizen_name: Mapped[str] = mapped_column(String(200))
    citizen_email: Mapped[str] = mapped_column(String(254), default="")
    citizen_phone: Mapped[str] = mapped_column(String(40), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ConsultationStatus] = mapped_column(
        Enum(ConsultationStatus, native_enum=False, length=20, values_callable=_values),
        default=ConsultationStatus.SCHEDULED,
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The case (server.models.cases.Case) it belongs to. Not a foreign key, like Booking.case_id: adding one to an
    # existing table makes SQLite rebuild it (and lose its triggers); server.cases keeps the link right.
    case_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)

    operator: Mapped[Staff] = relationship(lazy="raise_on_sql")
    service: Mapped[Service | None] = relationship(lazy="raise_on_sql")


class CitizenPass(Base):
    """What a citizen's cookie stands for once the join token was exchanged (hash of the cookie value)."""

    __tablename__ = "citizen_pass"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its time (send_after) or for a retry
    SENT = "sent"  # handed to the SMTP server
    KEPT = "kept"  # no SMTP server configured: kept here for staff to read
    FAILED = "failed"  # gave up after the last retry


class OutboxMessage(Base):
    """An email: sent through SMTP when configured, else kept here for staff to read. Reminders wait here until
    their ``send_after``; a sender claims a row (``claimed_until``) so two processes never send it twice.

    No usable citizen link lies here: ``body`` and ``ics`` carry links redacted (``.../join/••••``) and the real
    ones are in ``sealed_links`` (sealed, bound to the row's id), put in at send time and then deleted
    (:mod:`server.outbox`)."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    ics: Mapped[str | None] = mapped_column(Text, default=None)  # an iCalendar attachment
    sealed_links: Mapped[str | None] = mapped_column(Text, default=None)  # until sent: the links, sealed
    kind: Mapped[str] = mapped_column(String(40), default="message")  # confirmation, reminder_24h, ...
    consultation_id: Mapped[str | None] = mapped_column(
        ForeignKey("consultation.id", ondelete="SET NULL"), default=None
    )
    booking_id: Mapped[str | None] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), default=None, index=True
    )
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=20, values_callable=_values), default=OutboxStatus.PENDING
    )
    send_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(String(200), default="")  # an error class, never message content
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AuditEvent(Base):
    """Who did what to which record, and when. Never holds the content itself."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(32), default=None, index=True)  # whose case data (case id)


Index("ix_consultation_starts_at", Consultation.starts_at)  # the statistics of a period (server.cases.stats)
