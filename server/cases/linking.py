"""Every contact belongs to a case: bookings and consultations not linked to one yet are linked here, to the
citizen's open case (same email or phone) or to a case opened for them, dated from the contact's creation.

This runs in the background (:mod:`scheduling.case_linker`), a few seconds after a booking, not inside it: booking
is the hot path and must not wait on a case lookup. An operator who opens a consultation's case before then gets
it opened at once (:func:`server.cases.records.case_of_consultation`), by the same rules.

Several processes may link at once: a contact is linked with ``UPDATE ... WHERE case_id IS NULL``, so it is linked
once, and a case opened for a contact another process linked first is rolled back with its audit row.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import audit
from server.models import Booking, BookingChannel, Case, CaseStatus, CaseWorker, Channel, Consultation

log = logging.getLogger(__name__)
Sessionmaker = async_sessionmaker[AsyncSession]
BATCH = 200
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
CODE_CHARS = 6
ACTOR = "system"
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


async def link_pending(sessionmaker: Sessionmaker) -> int:
    """Link up to BATCH bookings and BATCH consultations that have no case yet; the number linked."""
    async with sessionmaker() as db:
        bookings = await db.scalars(
            select(Booking).where(Booking.case_id.is_(None)).order_by(Booking.created_at).limit(BATCH)
        )
        contacts = [_of_booking(b) for b in bookings]
        consultations = await db.scalars(
            select(Consultation).where(Consultation.case_id.is_(None)).order_by(Consultation.created_at).limit(BATCH)
        )
        contacts += [of_consultation(c) for c in consultations]
    linked = 0
    for contact in contacts:
        linked += await _link(sessionmaker, contact)
    if linked:
        log.info("contacts linked to cases", extra={"event": "case_link", "count": linked})
    return linked


def _of_booking(booking: Booking) -> Contact:
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


def of_consultation(consultation: Consultation) -> Contact:
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
        f"staff:{consultation.operator_id}",
        None,
        consultation.starts_at,
    )


async def _link(sessionmaker: Sessionmaker, contact: Contact) -> int:
    async with sessionmaker.begin() as db:
        case = await open_case_of(db, contact) or await new_case(db, contact)
        await attach(db, case, contact)
        won = await db.execute(
            update(contact.kind)
            .where(contact.kind.id == contact.id, contact.kind.case_id.is_(None))
            .values(case_id=case.id)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            await db.rollback()  # another process linked it meanwhile: nothing of ours stays
            return 0
        if contact.consultation_id is not None:
            await db.execute(
                update(Consultation)
                .where(Consultation.id == contact.consultation_id, Consultation.case_id.is_(None))
                .values(case_id=case.id)
                .execution_options(synchronize_session=False)
            )
        db.add(audit.event(ACTOR, "link", contact.kind.__tablename__, contact.id, subject=case.id))
    return 1


async def attach(db: AsyncSession, case: Case, contact: Contact) -> None:
    """What a contact brings to its case: its session may be the first, its operator becomes a worker."""
    if case.first_session_at is None or contact.starts_at < case.first_session_at:
        case.first_session_at = contact.starts_at
    if await db.get(CaseWorker, (case.id, contact.operator_id)) is None:
        db.add(CaseWorker(case_id=case.id, staff_id=contact.operator_id))


async def open_case_of(db: AsyncSession, contact: Contact) -> Case | None:
    """The citizen's open case, by the same email or phone (not anonymised)."""
    same = []
    if contact.email:
        same.append(Case.citizen_email == contact.email)
    if contact.phone:
        same.append(Case.citizen_phone == contact.phone)
    if not same:
        return None
    query = select(Case).where(Case.status == CaseStatus.OPEN, Case.anonymised_at.is_(None), or_(*same))
    return await db.scalar(query.order_by(Case.opened_at.desc()).limit(1))


async def new_case(db: AsyncSession, contact: Contact, actor: str = ACTOR) -> Case:
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
