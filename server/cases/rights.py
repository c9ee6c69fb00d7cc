"""The audit log as the coordinator reads it, and a citizen's rights: the accesses to their data, an export of
everything the service holds about them (JSON), and anonymisation. Each function checks the service-wide rule
(:mod:`server.cases.policy`: ``AUDIT``, ``EXPORT``, ``ANONYMISE``), and is itself audited in the same transaction
as the read or change it records; a refusal is audited like any other (:func:`server.cases.records.refused`).

Nothing here (nor anywhere in the application) updates or deletes an audit row: the database refuses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server import actors, audit
from server.cases import records
from server.cases.policy import Action, allowed, withheld_from_export
from server.cases.records import Context
from server.db import scrub
from server.errors import Forbidden, InvalidInput, NotFound
from server.models import (
    AuditEvent,
    Booking,
    Case,
    CaseNote,
    Consultation,
    OutboxMessage,
    Outcome,
    ReviewDecision,
    RiskAssessment,
    SafetyAction,
    Staff,
    utcnow,
)

PAGE_SIZE = 50
Document = dict[str, object]  # a part of an export or of the accesses, ready for JSON
CaseRow = RiskAssessment | Outcome | SafetyAction
ANONYMOUS = "—"  # what a name becomes; contacts become empty
MAX_CONTACT = 254


async def may(ctx: Context, staff: Staff, action: Action) -> None:
    """Service-wide actions (not about one case): the rule, or an audited refusal and Forbidden."""
    if not allowed(staff.role, action, "other"):
        await records.refused(ctx, staff, action, None)
        raise Forbidden("only the coordinator may do that")


# -- the audit log -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit log; every one optional. ``until`` is a day, included."""

    actor: str = ""  # "staff:<id>", "system", or a staff member's email
    action: str = ""
    object_type: str = ""
    case_code: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1


@dataclass(frozen=True)
class AuditPage:
    rows: Sequence[AuditEvent]
    page: int
    has_next: bool
    codes: dict[str, str]  # case id -> case code, for the rows' subjects


async def _codes(db: AsyncSession, case_ids: set[str]) -> dict[str, str]:
    if not case_ids:
        return {}
    rows = await db.execute(select(Case.id, Case.code).where(Case.id.in_(case_ids)))
    return {case_id: code for case_id, code in rows}


async def search_audit(ctx: Context, staff: Staff, query: AuditQuery, page_size: int = PAGE_SIZE) -> AuditPage:
    """One page of the audit log, newest first. Reading it is audited (``read``, ``audit_log``)."""
    await may(ctx, staff, Action.AUDIT)
    async with ctx.sessionmaker.begin() as db:
        where = []
        if query.actor:
            who = query.actor
            if "@" in who:
                staff_id = await db.scalar(select(Staff.id).where(func.lower(Staff.email) == who.lower()))
                if staff_id is None:
                    raise InvalidInput("no staff member with that email", {"actor": "unknown"})
                who = actors.staff(staff_id)
            where.append(AuditEvent.actor == who)
        if query.action:
            where.append(AuditEvent.action == query.action)
        if query.object_type:
            where.append(AuditEvent.object_type == query.object_type)
        if query.case_code:
            case_id = await db.scalar(select(Case.id).where(Case.code == query.case_code.upper()))
            if case_id is None:
                raise InvalidInput("no case with that code", {"case": "unknown"})
            where.append(AuditEvent.subject == case_id)
        if query.since is not None:
            where.append(AuditEvent.at >= _day_start(query.since))
        if query.until is not None:
            where.append(AuditEvent.at < _day_start(query.until + timedelta(days=1)))
        offset = (query.page - 1) * page_size
        found = list(
            await db.scalars(
                select(AuditEvent).where(*where).order_by(AuditEvent.id.desc()).offset(offset).limit(page_size + 1)
            )
        )
        codes = await _codes(db, {r.subject for r in found if r.subject})
        db.add(audit.event(actors.staff(staff.id), "read", "audit_log", f"page:{query.page}"))
    return AuditPage(found[:page_size], query.page, len(found) > page_size, codes)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# -- a citizen's cases and the accesses to them ------------------------------------------------------------------


def _contact(email_or_phone: str) -> str:
    value = email_or_phone.strip()
    if not value or len(value) > MAX_CONTACT:
        raise InvalidInput("give the citizen's email or phone", {"contact": "required" if not value else "too_long"})
    return value


async def _citizen_cases(db: AsyncSession, contact: str) -> list[Case]:
    """The cases whose email (case-insensitive) or phone is exactly ``contact``, oldest first."""
    match = or_(func.lower(Case.citizen_email) == contact.lower(), Case.citizen_phone == contact)
    return list(await db.scalars(select(Case).where(match).order_by(Case.opened_at)))


@dataclass(frozen=True)
class Accesses:
    cases: Sequence[tuple[str, str]]  # (case id, code)
    rows: Sequence[AuditEvent]


async def citizen_accesses(ctx: Context, staff: Staff, email_or_phone: str) -> Accesses:
    """Every audit row whose subject is one of the citizen's cases, oldest first. Audited: one
    ``read_accesses`` row per case (so the citizen's next export shows this reading too)."""
    contact = _contact(email_or_phone)
    await may(ctx, staff, Action.AUDIT)
    async with ctx.sessionmaker.begin() as db:
        found = await _citizen_cases(db, contact)
        rows = await records.audit_rows(db, [c.id for c in found])
        for case in found:
            db.add(audit.event(actors.staff(staff.id), "read_accesses", "audit_log", case.id, subject=case.id))
        if not found:
            db.add(audit.event(actors.staff(staff.id), "read_accesses", "audit_log", "-"))
    return Accesses([(c.id, c.code) for c in found], rows)


ACCESS_COLUMNS = ("id", "at", "actor", "action", "object_type", "object_id", "case")


def access_records(accesses: Accesses) -> list[Document]:
    codes = dict(accesses.cases)
    return [
        {
            "id": r.id,
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "object_type": r.object_type,
            "object_id": r.object_id,
            "case": codes.get(r.subject or "", r.subject),
        }
        for r in accesses.rows
    ]


# -- export and anonymisation ------------------------------------------------------------------------------------


def _row(obj: object, *names: str) -> Document:
    out: Document = {}
    for name in names:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


WITHHELD_NOTICE = (
    "These parts of the case are clinical and are not in this export: the citizen may request them through the "
    "clinical lead, who provides them in person."
)


async def _case_document(db: AsyncSession, ctx: Context, staff: Staff, case: Case) -> Document:
    """What the service holds of ``case``, as far as ``staff`` may see it (:func:`policy.withheld_from_export`:
    a coordinator gets no reason, risk, safety steps, outcomes or notes), and what was withheld."""
    cid = case.id
    rel = await records.relation(db, staff, cid)
    withheld = withheld_from_export(staff.role, rel, supervisors_see_all=ctx.settings.supervisors_see_all_cases)
    consultations = await db.scalars(select(Consultation).where(Consultation.case_id == cid))
    bookings = await db.scalars(select(Booking).where(Booking.case_id == cid))
    person = ("citizen_name", "citizen_email", "citizen_phone")
    document: Document = {
        **_row(case, "code", *person, "channel", "status", "opened_at", "first_session_at"),
        "anonymised_at": case.anonymised_at.isoformat() if case.anonymised_at else None,
        "consultations": [_row(c, *person, "starts_at", "ends_at", "status") for c in consultations],
        "bookings": [_row(b, *person, "starts_at", "ends_at", "mode", "status") for b in bookings],
    }
    if "reason" not in withheld:
        document["reason"] = case.reason
    sections: dict[str, Callable[[], Awaitable[list[Document]]]] = {
        "risk_assessments": lambda: _rows(db, RiskAssessment, cid, RiskAssessment.at, "at", "self_harm", "others"),
        "outcomes": lambda: _rows(db, Outcome, cid, Outcome.at, "at", "kind"),
        "safety_steps": lambda: _rows(db, SafetyAction, cid, SafetyAction.at, "at", "action"),
        "notes": lambda: _notes(db, ctx, cid),
    }
    for name, read in sections.items():
        if name not in withheld:
            document[name] = await read()
    if withheld:
        document["withheld"] = {"sections": withheld, "how_to_request": WITHHELD_NOTICE}
    return document


async def _rows(
    db: AsyncSession, model: type[CaseRow], case_id: str, order: InstrumentedAttribute[datetime], *names: str
) -> list[Document]:
    return [_row(r, *names) for r in await db.scalars(select(model).where(model.case_id == case_id).order_by(order))]


async def _notes(db: AsyncSession, ctx: Context, case_id: str) -> list[Document]:
    notes = await db.scalars(select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.created_at))
    place = records.note_place(case_id)
    return [{"at": n.created_at.isoformat(), "text": ctx.keyring.open(n.sealed, place)} for n in notes]


async def export_citizen(ctx: Context, staff: Staff, email_or_phone: str) -> Document:
    """What the service holds about the citizen with that email or phone, as far as the exporter's role may see
    it (clinical parts withheld, and said so: :func:`_case_document`), and the accesses to it, as one JSON-ready
    document. Audited: one ``export`` row per case."""
    contact = _contact(email_or_phone)
    await may(ctx, staff, Action.EXPORT)
    async with ctx.sessionmaker.begin() as db:
        found = await _citizen_cases(db, contact)
        documents = [await _case_document(db, ctx, staff, case) for case in found]
        rows = await records.audit_rows(db, [c.id for c in found])
        for case in found:
            db.add(audit.event(actors.staff(staff.id), "export", "case", case.id, subject=case.id))
        if not found:
            db.add(audit.event(actors.staff(staff.id), "export", "case", "-"))
    accesses = access_records(Accesses([(c.id, c.code) for c in found], rows))
    return {"exported_at": utcnow().isoformat(), "cases": documents, "accesses": accesses}


async def anonymise(db: AsyncSession, case: Case, now: datetime) -> None:
    """Replace the citizen's name and contacts on the case, its consultations and bookings (and drop their
    emails from the outbox); remove its notes and review decisions. Structured figures stay for statistics."""
    case.citizen_name, case.citizen_email, case.citizen_phone = ANONYMOUS, "", ""
    case.anonymised_at = now
    blank = {"citizen_name": ANONYMOUS, "citizen_email": "", "citizen_phone": ""}
    for model in (Consultation, Booking):
        await db.execute(
            update(model).where(model.case_id == case.id).values(**blank).execution_options(synchronize_session=False)
        )
    sessions = select(Consultation.id).where(Consultation.case_id == case.id)
    booked = select(Booking.id).where(Booking.case_id == case.id)
    await db.execute(
        delete(OutboxMessage).where(
            or_(OutboxMessage.consultation_id.in_(sessions), OutboxMessage.booking_id.in_(booked))
        )
    )
    await db.execute(delete(CaseNote).where(CaseNote.case_id == case.id))
    await db.execute(delete(ReviewDecision).where(ReviewDecision.case_id == case.id))


async def anonymise_citizen(ctx: Context, staff: Staff, case_id: str) -> Case:
    """Anonymise one case on the citizen's request (audited ``anonymise``). Anonymising twice is harmless."""
    await may(ctx, staff, Action.ANONYMISE)
    async with ctx.sessionmaker.begin() as db:
        case = await db.get(Case, case_id)
        if case is None:
            raise NotFound("no such case")
        await anonymise(db, case, utcnow())
        db.add(audit.event(actors.staff(staff.id), "anonymise", "case", case.id, subject=case.id))
    await scrub(ctx.sessionmaker)  # SQLite: the old page versions in the write-ahead log go too
    return case
