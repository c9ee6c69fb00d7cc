"""Case work: the case a citizen's contacts belong to, its risk assessments, sealed session notes, outcomes,
safety actions and team-review decisions, and the directory of local services referrals go to.

Personal data (the citizen's name and contacts) lives on the case (and on its bookings and consultations) so that
it can be purged or anonymised in one place; note text and review decisions are stored sealed (see
:mod:`server.sealing`); everything else is structured (enums), so statistics never need free text.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.core import Base, UTCDateTime, _values, new_id, utcnow


class Reason(enum.StrEnum):
    """Why the citizen contacted the service."""

    EPIDEMIC_EVENTS = "epidemic_events"  # painful events linked to the epidemic
    NEGATIVE_EMOTIONS = "negative_emotions"  # difficulty managing negative emotions
    IMPULSIVE_ACTS = "impulsive_acts"  # risk of impulsive or harmful acts
    RELATIONAL_CONFLICT = "relational_conflict"
    CRIME_VICTIM = "crime_victim"
    LEGAL_QUESTION = "legal_question"
    OTHER = "other"


class Channel(enum.StrEnum):
    """How the citizen reached the service."""

    SWITCHBOARD = "switchboard"
    ONLINE = "online"
    REFERRAL = "referral"


class RiskLevel(enum.StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OutcomeKind(enum.StrEnum):
    CLOSED_AFTER_SUPPORT = "closed_after_support"
    FURTHER_SESSIONS = "further_sessions"
    SPECIALIST = "specialist"  # taken on by a specialist of the team
    REFERRAL = "referral"  # referred to a local service
    LEGAL_ADVICE = "legal_advice"  # given, or booked with the lawyer


def _enum(kind: type[enum.StrEnum], length: int = 30) -> Enum:
    return Enum(kind, native_enum=False, length=length, values_callable=_values)


class Case(Base):
    """A citizen's case. ``code`` is what agendas, supervision and statistics show instead of a name."""

    __tablename__ = "case_file"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    service_id: Mapped[str | None] = mapped_column(ForeignKey("service.id"), default=None, index=True)
    citizen_name: Mapped[str] = mapped_column(String(200), default="")
    citizen_email: Mapped[str] = mapped_column(String(254), default="", index=True)
    citizen_phone: Mapped[str] = mapped_column(String(40), default="", index=True)
    reason: Mapped[Reason] = mapped_column(_enum(Reason), default=Reason.OTHER)
    channel: Mapped[Channel] = mapped_column(_enum(Channel), default=Channel.SWITCHBOARD)
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, 10), default=CaseStatus.OPEN)
    risk_self: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, 10), default=RiskLevel.NONE)
    risk_others: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, 10), default=RiskLevel.NONE)
    flagged: Mapped[bool] = mapped_column(default=False)  # for the next team review
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    opened_by: Mapped[str] = mapped_column(String(80))  # "citizen" or "staff:<id>"
    first_session_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class CaseWorker(Base):
    """Who may work on a case: those who held a session of it, and those it was shared with."""

    __tablename__ = "case_worker"

    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True, index=True)
    shared_by: Mapped[str | None] = mapped_column(String(80), default=None)  # None: worked on it
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RiskAssessment(Base):
    """One assessment of risk, at a session or in between; the case keeps the latest."""

    __tablename__ = "risk_assessment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    consultation_id: Mapped[str | None] = mapped_column(ForeignKey("consultation.id", ondelete="SET NULL"))
    self_harm: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, 10))
    others: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, 10))
    by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseNote(Base):
    """A session note, sealed: ``sealed`` is authenticated ciphertext (:mod:`server.sealing`), never plain text."""

    __tablename__ = "case_note"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    consultation_id: Mapped[str | None] = mapped_column(ForeignKey("consultation.id", ondelete="SET NULL"))
    author_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalService(Base):
    """A service of the local network that citizens are referred to (the coordinator keeps the directory)."""

    __tablename__ = "local_service"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100), default="")
    area: Mapped[str] = mapped_column(String(100), default="")
    contacts: Mapped[str] = mapped_column(String(500), default="")
    hours: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(default=True)


class Outcome(Base):
    """What a session decided. ``specialist_id`` for a take-over, ``local_service_id`` for a referral."""

    __tablename__ = "outcome"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    consultation_id: Mapped[str | None] = mapped_column(ForeignKey("consultation.id", ondelete="SET NULL"))
    kind: Mapped[OutcomeKind] = mapped_column(_enum(OutcomeKind))
    specialist_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"), default=None)
    local_service_id: Mapped[str | None] = mapped_column(ForeignKey("local_service.id"), default=None)
    by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SafetyAction(Base):
    """A step of the safety protocol taken for a high-risk case (a checklist item's key), and when."""

    __tablename__ = "safety_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewDecision(Base):
    """A team review's decision on a case, sealed like a note."""

    __tablename__ = "review_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseSuggestion(Base):
    """ "Possibly the same person": a case opened for a new contact (``new_case_id``) whose email or phone matches
    an existing case (``case_id``). Shown only to those with access to the existing case, naming the new case by
    its code; nothing is merged until someone with access to both says so (:mod:`server.cases.merging`). A
    dismissed suggestion is kept, so that it is not made again."""

    __tablename__ = "case_suggestion"
    __table_args__ = (UniqueConstraint("case_id", "new_case_id", name="uq_case_suggestion_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    new_case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    matched_on: Mapped[str] = mapped_column(String(12))  # "email", "phone" or "email+phone"
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_by: Mapped[str | None] = mapped_column(String(80), default=None)  # "staff:<id>"
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


Index("ix_outcome_case_at", Outcome.case_id, Outcome.at)
