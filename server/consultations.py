"""Consultations: creating one, the citizen's join token and pass, the time window, ending.

The join link carries a 140-bit token (easy to dictate, see :mod:`server.crypto`) whose SHA-256 is stored with
the consultation. Opening the link exchanges the token for a citizen pass (another random secret, kept in an
HttpOnly cookie) and redirects to a clean URL.
The link works again within its window (an email link gets clicked twice, a phone battery dies), but each
exchange revokes earlier passes: one device at a time holds the citizen's seat (the earlier device's open
signaling sockets are closed, :mod:`signaling.sockets`). A new link revokes the pass too; an ended session's pass
opens nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import actors
from server.audit import record
from server.crypto import digest, join_digest, new_join_token, new_secret
from server.errors import Forbidden, InvalidInput, NotFound
from server.models import CitizenPass, Consultation, ConsultationStatus, Staff, utcnow
from server.settings import Settings

MAX_NAME = 200


class WindowState(enum.StrEnum):
    OPEN = "open"
    TOO_EARLY = "too_early"
    EXPIRED = "expired"
    ENDED = "ended"


def window_state(consultation: Consultation, settings: Settings, now: datetime | None = None) -> WindowState:
    now = now or utcnow()
    if consultation.status == ConsultationStatus.ENDED:
        return WindowState.ENDED
    if now < consultation.starts_at - timedelta(minutes=settings.join_early_minutes):
        return WindowState.TOO_EARLY
    if now > consultation.ends_at + timedelta(minutes=settings.join_late_minutes):
        return WindowState.EXPIRED
    return WindowState.OPEN


def opens_at(consultation: Consultation, settings: Settings) -> datetime:
    return consultation.starts_at - timedelta(minutes=settings.join_early_minutes)


@dataclass(frozen=True)
class NewConsultation:
    consultation: Consultation
    token: str  # shown once: only its digest is stored


def validate_citizen(name: str, email: str, phone: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    if not name.strip():
        fields["citizen_name"] = "required"
    elif len(name) > MAX_NAME:
        fields["citizen_name"] = "too_long"
    email = email.strip()
    if email and ("@" not in email or len(email) > 254 or " " in email):
        fields["citizen_email"] = "invalid_email"
    phone = phone.strip()
    if phone and (len(phone) > 40 or not all(c.isdigit() or c in "+ -./()" for c in phone)):
        fields["citizen_phone"] = "invalid_phone"
    return fields


async def create_consultation(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    operator: Staff,
    citizen_name: str,
    citizen_email: str = "",
    citizen_phone: str = "",
    starts_at: datetime | None = None,
    minutes: int | None = None,
) -> NewConsultation:
    fields = validate_citizen(citizen_name, citizen_email, citizen_phone)
    if fields:
        raise InvalidInput("invalid consultation", fields)
    starts_at = starts_at or utcnow()
    token = new_join_token()
    consultation = Consultation(
        operator_id=operator.id,
        citizen_name=citizen_name.strip(),
        citizen_email=citizen_email.strip(),
        citizen_phone=citizen_phone.strip(),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes or settings.consultation_minutes),
        token_hash=join_digest(token),
    )
    async with sessionmaker.begin() as db:
        db.add(consultation)
        await db.flush()
        record(db, actors.staff(operator.id), "create", "consultation", consultation.id)
    return NewConsultation(consultation, token)


async def reissue_token(sessionmaker: async_sessionmaker[AsyncSession], operator: Staff, consultation_id: str) -> str:
    """A new join token for the operator's consultation; the old link stops working, and so does the pass (cookie)
    it was exchanged for: the citizen's open sockets are closed and they need the new link to come back."""
    token = new_join_token()
    async with sessionmaker.begin() as db:
        consultation = await _owned(db, operator, consultation_id)
        consultation.token_hash = join_digest(token)
        await revoke_passes(db, consultation.id)
        record(db, actors.staff(operator.id), "reissue_link", "consultation", consultation.id)
    return token


async def revoke_passes(db: AsyncSession, consultation_id: str) -> None:
    """Revoke every citizen pass of the consultation, in the caller's transaction: the cookies stop opening
    ``/call`` and their open signaling sockets are closed (:mod:`signaling.sockets` notices within a second)."""
    await db.execute(delete(CitizenPass).where(CitizenPass.consultation_id == consultation_id))


async def _owned(db: AsyncSession, staff: Staff, consultation_id: str) -> Consultation:
    consultation = await db.get(Consultation, consultation_id)
    if consultation is None:
        raise NotFound("no such consultation")
    if consultation.operator_id != staff.id:
        raise Forbidden("this consultation belongs to another operator")
    return consultation


async def get_for_staff(
    sessionmaker: async_sessionmaker[AsyncSession], staff: Staff, consultation_id: str
) -> Consultation:
    async with sessionmaker.begin() as db:
        consultation = await _owned(db, staff, consultation_id)
        record(db, actors.staff(staff.id), "read", "consultation", consultation.id)
    return consultation


async def list_for_operator(
    sessionmaker: async_sessionmaker[AsyncSession], staff: Staff, *, since: datetime
) -> list[Consultation]:
    async with sessionmaker.begin() as db:
        rows = await db.scalars(
            select(Consultation)
            .where(Consultation.operator_id == staff.id, Consultation.ends_at >= since)
            .order_by(Consultation.starts_at)
        )
        consultations = list(rows)
        record(db, actors.staff(staff.id), "list", "consultation", "*")
    return consultations


@dataclass(frozen=True)
class Exchange:
    """The outcome of opening a join link."""

    state: WindowState
    consultation: Consultation | None  # None when the token matches nothing
    pass_secret: str | None  # set only when the window is open


async def exchange_token(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, token: str) -> Exchange:
    async with sessionmaker.begin() as db:
        consultation = await db.scalar(select(Consultation).where(Consultation.token_hash == join_digest(token)))
        if consultation is None:
            return Exchange(WindowState.EXPIRED, None, None)
        state = window_state(consultation, settings)
        if state != WindowState.OPEN:
            return Exchange(state, consultation, None)
        await db.execute(delete(CitizenPass).where(CitizenPass.consultation_id == consultation.id))
        secret = new_secret()
        db.add(CitizenPass(id_hash=digest(secret), consultation_id=consultation.id))
        record(db, actors.CITIZEN, "open_link", "consultation", consultation.id)
    return Exchange(state, consultation, secret)


@dataclass(frozen=True)
class CitizenSeat:
    """What a valid citizen cookie stands for."""

    pass_hash: str
    consultation: Consultation
    state: WindowState


async def lookup_pass(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, secret: str
) -> CitizenSeat | None:
    async with sessionmaker() as db:
        citizen_pass = await db.get(CitizenPass, digest(secret))
        if citizen_pass is None:
            return None
        consultation = await db.get(Consultation, citizen_pass.consultation_id)
    if consultation is None:
        return None
    return CitizenSeat(citizen_pass.id_hash, consultation, window_state(consultation, settings))


async def end_consultation(sessionmaker: async_sessionmaker[AsyncSession], consultation_id: str, actor: str) -> None:
    """Mark the consultation ended; idempotent. That revokes the citizen's pass in effect: an ended consultation's
    link and cookie open nothing (:func:`window_state` is ENDED) and its open sockets are closed. The pass row is
    kept so that ``/call`` can tell the citizen that the session ended rather than that the link is not active."""
    async with sessionmaker.begin() as db:
        consultation = await db.get(Consultation, consultation_id)
        if consultation is None or consultation.status == ConsultationStatus.ENDED:
            return
        consultation.status = ConsultationStatus.ENDED
        consultation.ended_at = utcnow()
        record(db, actor, "end", "consultation", consultation_id)
