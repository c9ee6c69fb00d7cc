"""Every contact belongs to a case: bookings and consultations not linked to one yet are linked here. A contact
already tied to a case (a follow-up booked from its case carries the case's id; a booking's consultation follows
its booking) goes in that case; any other contact gets a case of its own, dated from its creation.

Knowing a citizen's email or phone never opens their case: a new case whose email or phone matches an existing
open case only becomes a *suggestion* ("possibly the same person", :class:`server.models.cases.CaseSuggestion`),
shown to those who already have the existing case; merging is an explicit act (:mod:`server.cases.merging`).
Public bookings are never merged on their own.

This runs in the background (:mod:`server.cases.linker`), a few seconds after a booking, not inside it: booking
is the hot path and must not wait on a case lookup. An operator who opens a consultation's case before then gets
it opened at once (:func:`server.cases.records.case_of_consultation`), by the same rules.

Several processes may link at once: a contact is linked with ``UPDATE ... WHERE case_id IS NULL``, so it is linked
once, and a case opened for a contact another process linked first is rolled back with its suggestions and audit
rows.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import actors, audit
from server.cases.policy import Action, Relation, allowed
from server.models import Booking, BookingChannel, Case, CaseStatus, CaseWorker, Channel, Consultation, Role
from server.models.cases import CaseSuggestion

log = logging.getLogger(__name__)
Sessionmaker = async_sessionmaker[AsyncSession]
BATCH = 200
MAX_SUGGESTIONS = 5  # the newest open cases with the same email or phone
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
CODE_CHARS = 6
CHANNELS = {BookingChannel.ONLINE: Channel.ONLINE, BookingChannel.SWITCHBOARD: Channel.SWITCHBOARD}


@dataclass(frozen=True)
class Contact:
    """A booking or a consultation waiting for its case."""

    kind: type[Booking] | type[Consultation]
    id: str
    service_id: str | None
    operator_id: str
    name: str
    email: str
    phone: str
    created_at: datetime
    channel: Channel
    opened_by: str
    consultation_id: str | None  # a booking's consultation, linked with it
    starts_at: datetime  # when its session is
    case_id: str | None = None  # the case it is already tied to (a consultation's booking's case)


async def link_pending(sessionmaker: Sessionmaker) -> int:
    """Link up to BATCH bookings and BATCH consultations that have no case yet; the number linked. A consultation
    of a booking is linked with its booking (or, when the booking already has its case, to that case)."""
    async with sessionmaker() as db:
        bookings = await db.scalars(
            select(Booking).where(Booking.case_id.is_(None)).order_by(Booking.created_at).limit(BATCH)
        )
        contacts = [of_booking(b) for b in bookings]
        consultations = await db.execute(
            select(Consultation, Booking.case_id)
            .outerjoin(Booking, Booking.consultation_id == Consultation.id)
            .where(Consultation.case_id.is_(None), or_(Booking.id.is_(None), Booking.case_id.is_not(None)))
            .order_by(Consultation.created_at)
            .limit(BATCH)
        )
        contacts += [of_consultation(c, case_id) for c, case_id in consultations.all()]
    linked = 0
    for contact in contacts:
        async with sessionmaker.begin() as db:
            case = await link(db, contact)
            if case is not None:
                db.add(audit.event(actors.SYSTEM, "link", contact.kind.__tablename__, contact.id, subject=case.id))
                linked += 1
    if linked:
        log.info("contacts linked to cases", extra={"event": "case_link", "count": linked})
    return linked


def of_booking(booking: Booking) -> Contact:
    return Contact(
        Booking,
        booking.id,
        booking.service_id,
        booking.operator_id,
        booking.citizen_name,
        booking.citizen_email,
        booking.citizen_phone,
        booking.created_at,
        CHANNELS.get(booking.channel, Channel.SWITCHBOARD),
        booking.booked_by,
        booking.consultation_id,
        booking.starts_at,
    )


def of_consultation(consultation: Consultation, case_id: str | None = None) -> Contact:
    return Contact(
        Consultation,
        consultation.id,
        consultation.service_id,
        consultation.operator_id,
        consultation.citizen_name,
        consultation.citizen_email,
        consultation.citizen_phone,
        consultation.created_at,
        Channel.SWITCHBOARD,
        actors.staff(consultation.operator_id),
        None,
        consultation.starts_at,
        case_id,
    )


async def link(db: AsyncSession, contact: Contact, actor: str = actors.SYSTEM) -> Case | None:
    """Link ``contact`` to the case it is tied to, or to a new case of its own (with suggestions of the open
    cases of the same email or phone), in the caller's transaction; its operator becomes a worker. None, with the
    transaction rolled back, when another process linked it first."""
    tied = await db.get(Case, contact.case_id) if contact.case_id else None
    case = tied or await new_case(db, contact, actor)
    await attach(db, case, contact)
    won = await db.execute(
        update(contact.kind)
        .where(contact.kind.id == contact.id, contact.kind.case_id.is_(None))
        .values(case_id=case.id)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()  # another process linked it meanwhile: nothing of ours stays
        return None
    if contact.consultation_id is not None:
        await db.execute(
            update(Consultation)
            .where(Consultation.id == contact.consultation_id, Consultation.case_id.is_(None))
            .values(case_id=case.id)
            .execution_options(synchronize_session=False)
        )
    if tied is None:
        await suggest(db, case, contact, actor)
    return case


async def suggest(db: AsyncSession, case: Case, contact: Contact, actor: str = actors.SYSTEM) -> None:
    """Suggest the new ``case`` as "possibly the same person" on the open cases with the contact's email or
    phone (not anonymised): never merged here, and never shown to the new case's people (audited ``suggest``,
    subject the existing case)."""
    same = []
    if contact.email:
        same.append(Case.citizen_email == contact.email)
    if contact.phone:
        same.append(Case.citizen_phone == contact.phone)
    if not same:
        return
    query = select(Case.id, Case.citizen_email, Case.citizen_phone).where(
        Case.id != case.id, Case.status == CaseStatus.OPEN, Case.anonymised_at.is_(None), or_(*same)
    )
    for existing_id, email, phone in await db.execute(query.order_by(Case.opened_at.desc()).limit(MAX_SUGGESTIONS)):
        hits = (
            ("email", bool(contact.email) and email == contact.email),
            ("phone", bool(contact.phone) and phone == contact.phone),
        )
        matched = "+".join(name for name, hit in hits if hit)
        db.add(CaseSuggestion(case_id=existing_id, new_case_id=case.id, matched_on=matched))
        db.add(audit.event(actor, "suggest", "case", case.id, subject=existing_id))


async def attach(db: AsyncSession, case: Case, contact: Contact) -> None:
    """What a contact brings to its case: its session may be the first, its operator becomes a worker."""
    if case.first_session_at is None or contact.starts_at < case.first_session_at:
        case.first_session_at = contact.starts_at
    if await db.get(CaseWorker, (case.id, contact.operator_id)) is None:
        db.add(CaseWorker(case_id=case.id, staff_id=contact.operator_id))


async def new_case(db: AsyncSession, contact: Contact, actor: str = actors.SYSTEM) -> Case:
    """A case opened for ``contact`` (dated from its creation), with its audit row by ``actor``."""
    for _ in range(10):
        code = new_code()
        if await db.scalar(select(Case.id).where(Case.code == code)) is None:
            break
    else:
        raise RuntimeError("no free case code")
    case = Case(
        code=code,
        service_id=contact.service_id,
        citizen_name=contact.name,
        citizen_email=contact.email,
        citizen_phone=contact.phone,
        channel=contact.channel,
        opened_at=contact.created_at,
        opened_by=contact.opened_by,
    )
    db.add(case)
    await db.flush()
    db.add(audit.event(actor, "create", "case", case.id, subject=case.id))
    return case


def new_code() -> str:
    """A case code: six characters of Crockford's base32 (no I, L, O, U), easy to read aloud."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_CHARS))


@dataclass(frozen=True)
class Suggestion:
    """A possible duplicate of a case, as shown on the existing case's page: the new case by its code only."""

    id: int
    code: str
    matched_on: str
    at: datetime
    may_merge: bool  # the viewer may merge it (MERGE on both cases)


async def open_suggestions(
    db: AsyncSession, case_id: str, relation_to: Callable[[str], Awaitable[Relation]], role: Role, see_all: bool
) -> list[Suggestion]:
    """The case's suggestions not dismissed, oldest first, for someone of ``role`` (who may see them: the caller
    checked ``SUGGESTIONS``); ``relation_to`` gives their relation to a case."""
    rows = await db.execute(
        select(CaseSuggestion.id, Case.id, Case.code, CaseSuggestion.matched_on, CaseSuggestion.at)
        .join(Case, Case.id == CaseSuggestion.new_case_id)
        .where(CaseSuggestion.case_id == case_id, CaseSuggestion.dismissed_at.is_(None))
        .order_by(CaseSuggestion.at, CaseSuggestion.id)
    )
    may_here = allowed(role, Action.MERGE, await relation_to(case_id), supervisors_see_all=see_all)
    found = []
    for suggestion_id, new_id, code, matched_on, at in rows.all():
        there = may_here and allowed(role, Action.MERGE, await relation_to(new_id), supervisors_see_all=see_all)
        found.append(Suggestion(suggestion_id, code, matched_on, at, there))
    return found
