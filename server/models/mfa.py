"""Staff multi-factor authentication (server.mfa): TOTP secrets, recovery codes, logins waiting for a code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.core import Base, UTCDateTime, utcnow


class StaffMfa(Base):
    """A staff member's TOTP secret, sealed with the keyring (never in clear). ``confirmed_at`` is None while
    the member is enrolling (the secret was shown, no code confirmed it yet). ``last_step`` is the last TOTP
    time step accepted, so that a code is never accepted twice; ``failures`` counts wrong codes in a row and
    ``locked_until`` delays the next attempt once there were too many."""

    __tablename__ = "staff_mfa"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    sealed_secret: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MfaRecoveryCode(Base):
    """A one-time recovery code: only the SHA-256 of the (high-entropy) code, bound to its staff member."""

    __tablename__ = "mfa_recovery_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MfaPendingLogin(Base):
    """A correct password waiting for its second factor: not a session. Only the code and enrolment pages
    accept its cookie (only its SHA-256 is stored); it lives a few minutes and allows a few wrong codes."""

    __tablename__ = "mfa_pending_login"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    next_url: Mapped[str] = mapped_column(String(500), default="/console")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
