"""Reading and writing case data, each access checked by :mod:`server.cases.policy` and audited in the same
transaction: a read or write of case data and its audit row commit together, or neither does. A refusal is
written to the audit log in a transaction of its own (the refused request writes nothing else) and logged without
personal data.

Every function takes the acting staff member and the case (or consultation) id as given by the request; nothing
here trusts an id to belong to whoever sent it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import actors, audit
from server.cases import linking
from server.cases.policy import Action, Relation, allowed, visible
from server.db import insert_now
from server.errors import Forbidden, InvalidInput, NotFound
from server.models import (
    AuditEvent,
    Booking,
    Case,
    CaseNote,
    CaseStatus,
    CaseWorker,
    Channel,
    Consultation,
    LocalService,
    Outcome,
    OutcomeKind,
    Reason,
    ReviewDecision,
    RiskAssessment,
    RiskLevel,
    SafetyAction,
    Staff,
)
from server.sealing import Keyring
from server.settings import Settings

log = logging.getLogger(__name__)
Sessionmaker = async_sessionmaker[AsyncSession]
MAX_NOTE = 20_000
SAFETY_STEPS = ("emergency_called", "asked_plan", "asked_means", "contact_alerted", "supervisor_told", "stayed_on")


def note_place(case_id: str) -> str:
    """What a case's notes are sealed to (:mod:`server.sealing`): they open in their own case only."""
    return f"case_note:{case_id}"


def decision_place(case_id: str) -> str:
    """What a case's review decisions are sealed to."""
    return f"review_decision:{case_id}"


@dataclass(frozen=True)
class Context:
    """What every access needs: the database, the settings (the supervisors' policy) and the notes keyring."""

    sessionmaker: Sessionmaker
    settings: Settings
    keyring: Keyring


# -- access ------------------------------------------------------------------------------------------------------


async def relation(db: AsyncSession, staff: Staff, case_id: str) -> Relation:
    worker = await db.get(CaseWorker, (case_id, staff.id))
    return "worker" if worker is not None else "other"


async def refused(ctx: Context, staff: Staff, action: Action, case_id: str | None) -> None:
    """Record a refused access (its own transaction: the refused request writes nothing else)."""
    log.info("case access refused", extra={"event": "case_refused", "action": action.value})
    async with ctx.sessionmaker.begin() as db:
        db.add(audit.event(actors.staff(staff.id), f"refused:{action.value}", "case", case_id or "-", subject=case_id))


async def case_for(db: AsyncSession, ctx: Context, staff: Staff, case_id: str, action: Action) -> Case:
    """The case, if ``staff`` may do ``action`` on it; else the refusal is recorded and NotFound or Forbidden."""
    case = await db.get(Case, case_id)
    rel = await relation(db, staff, case_id) if case is not None else "other"
    see_all = ctx.settings.supervisors_see_all_cases
    if case is not None and allowed(staff.role, action, rel, supervisors_see_all=see_all):
        return case
    await refused(ctx, staff, action, case_id if case is not None else None)
    if case is None or not visible(staff.role, rel, supervisors_see_all=see_all):
        raise NotFound("no such case")
    raise Forbidden("your role may not do that with this case")


async def audit_access(
    db: AsyncSession, staff: Staff, action: str, object_type: str, object_id: str, case_id: str
) -> None:
    """The access's audit row, written now in the caller's transaction (a Core INSERT: on a read, the unit of
    work would cost more than the statement)."""
    await insert_now(db, audit.event(actors.staff(staff.id), action, object_type, object_id, subject=case_id))


# -- opening a case ----------------------------------------------------------------------------------------------


async def case_of_consultation(ctx: Context, staff: Staff, consultation_id: str) -> Case:
    """The case of a consultation, linked now if the background linker (:mod:`server.cases.linking`) has not yet,
    by its rules: the case it is tied to (its booking's), else a new one; never a case found by email or phone.
    Only the consultation's operator may ask; they become one of its workers."""
    for _ in range(2):  # a second time if the linker linked it meanwhile
        async with ctx.sessionmaker.begin() as db:
            consultation = await db.get(Consultation, consultation_id)
            if consultation is None or consultation.operator_id != staff.id:
                await refused(ctx, staff, Action.READ, None)
                raise NotFound("no such consultation")
            contact = linking.of_consultation(consultation)
            case = await db.get(Case, consultation.case_id) if consultation.case_id else None
            if case is None:
                booking = await db.scalar(select(Booking).where(Booking.consultation_id == consultation.id))
                if booking is not None:
                    contact = linking.of_consultation(consultation, booking.case_id)
                    if booking.case_id is None:
                        contact = linking.of_booking(booking)  # linked with its booking
                case = await linking.link(db, contact, actors.staff(staff.id))
                if case is None:
                    continue  # rolled back: linked by another process
            # the consultation's operator (``staff``) becomes a worker
            await linking.attach(db, case, linking.of_consultation(consultation))
            await audit_access(db, staff, "link", "consultation", consultation.id, case.id)
            return case
    raise RuntimeError("the consultation's case could not be linked")


# -- a case's consultations, for its page and forms ---------------------------------------------------------------


async def latest_consultation(ctx: Context, staff: Staff, case_id: str) -> str | None:
    """``staff``'s latest consultation of the case (the case page's follow-up is booked from it), or None. A part
    of the case page, whose :func:`read_case` writes the audit row; it finds only the asker's own consultations."""
    async with ctx.sessionmaker() as db:
        return await db.scalar(
            select(Consultation.id)
            .where(Consultation.case_id == case_id, Consultation.operator_id == staff.id)
            .order_by(Consultation.starts_at.desc())
            .limit(1)
        )


async def own_consultation(ctx: Context, staff: Staff, case_id: str, consultation_id: str) -> str | None:
    """``consultation_id`` if it is one of ``staff``'s consultations of this case, else None: a check of what a
    case form posted (the consultation a note, risk or outcome was written in, and where the page goes back to).
    It tells the asker nothing they did not send; the form's own write is what is audited."""
    if not consultation_id:
        return None
    async with ctx.sessionmaker() as db:
        found = await db.get(Consultation, consultation_id)
    ok = found is not None and found.case_id == case_id and found.operator_id == staff.id
    return consultation_id if ok else None


# -- reading -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    id: str
    author_id: str
    created_at: datetime
    text: str


@dataclass(frozen=True)
class CaseFile:
    """A case as one person may see it: ``notes`` and ``decisions`` (the team review's, opened) None when they may
    not read notes."""

    case: Case
    risks: Sequence[RiskAssessment]
    outcomes: Sequence[Outcome]
    safety: Sequence[SafetyAction]
    notes: Sequence[Note] | None
    workers: Sequence[str]
    decisions: Sequence[Note] | None = None
    suggestions: Sequence[linking.Suggestion] | None = None  # possible duplicates, when they may see them


async def read_case(ctx: Context, staff: Staff, case_id: str) -> CaseFile:
    """The case (one audit row: ``read``, or ``read_notes`` when the notes were opened too)."""
    async with ctx.sessionmaker.begin() as db:
        case = await case_for(db, ctx, staff, case_id, Action.READ)
        rel = await relation(db, staff, case_id)
        with_notes = allowed(
            staff.role, Action.READ_NOTES, rel, supervisors_see_all=ctx.settings.supervisors_see_all_cases
        )
        notes = decisions = None
        if with_notes:
            rows = await db.scalars(select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.created_at))
            place = note_place(case_id)
            notes = [Note(n.id, n.author_id, n.created_at, ctx.keyring.open(n.sealed, place)) for n in rows]
            taken = await db.scalars(
                select(ReviewDecision).where(ReviewDecision.case_id == case_id).order_by(ReviewDecision.at)
            )
            place = decision_place(case_id)
            decisions = [Note(str(d.id), d.by, d.at, ctx.keyring.open(d.sealed, place)) for d in taken]
        found = CaseFile(
            case=case,
            risks=list(
                await db.scalars(
                    select(RiskAssessment).where(RiskAssessment.case_id == case_id).order_by(RiskAssessment.at)
                )
            ),
            outcomes=list(await db.scalars(select(Outcome).where(Outcome.case_id == case_id).order_by(Outcome.at))),
            safety=list(
                await db.scalars(select(SafetyAction).where(SafetyAction.case_id == case_id).order_by(SafetyAction.at))
            ),
            notes=notes,
            workers=list(await db.scalars(select(CaseWorker.staff_id).where(CaseWorker.case_id == case_id))),
            decisions=decisions,
            suggestions=await _suggestions(db, ctx, staff, case_id),
        )
        await audit_access(db, staff, "read_notes" if with_notes else "read", "case", case_id, case_id)
    return found


async def _suggestions(db: AsyncSession, ctx: Context, staff: Staff, case_id: str) -> list[linking.Suggestion] | None:
    see_all = ctx.settings.supervisors_see_all_cases
    if not allowed(staff.role, Action.SUGGESTIONS, await relation(db, staff, case_id), supervisors_see_all=see_all):
        return None
    return await linking.open_suggestions(db, case_id, lambda cid: relation(db, staff, cid), staff.role, see_all)


# -- writing -----------------------------------------------------------------------------------------------------


async def write_note(
    ctx: Context, staff: Staff, case_id: str, text: str, consultation_id: str | None = None
) -> CaseNote:
    text = text.strip()
    if not text or len(text) > MAX_NOTE:
        raise InvalidInput("the note is empty or too long", {"note": "required" if not text else "too_long"})
    async with ctx.sessionmaker.begin() as db:
        await case_for(db, ctx, staff, case_id, Action.WRITE_NOTE)
        note = CaseNote(
            case_id=case_id,
            consultation_id=consultation_id,
            author_id=staff.id,
            sealed=ctx.keyring.seal(text, note_place(case_id)),
        )
        db.add(note)
        await db.flush()
        await audit_access(db, staff, "write_note", "case_note", note.id, case_id)
    return note


async def assess_risk(
    ctx: Context,
    staff: Staff,
    case_id: str,
    self_harm: RiskLevel,
    others: RiskLevel,
    consultation_id: str | None = None,
) -> RiskAssessment:
    """Record an assessment; the case keeps the latest. A high level is for the caller to raise the alarm."""
    async with ctx.sessionmaker.begin() as db:
        case = await case_for(db, ctx, staff, case_id, Action.ASSESS_RISK)
        assessment = RiskAssessment(
            case_id=case_id, consultation_id=consultation_id, self_harm=self_harm, others=others, by=staff.id
        )
        db.add(assessment)
        case.risk_self, case.risk_others = self_harm, others
        if RiskLevel.HIGH in (self_harm, others):
            case.flagged = True  # a high-risk case goes to the next team review
        await db.flush()
        await audit_access(db, staff, "assess_risk", "risk_assessment", str(assessment.id), case_id)
    return assessment


async def record_outcome(
    ctx: Context,
    staff: Staff,
    case_id: str,
    kind: OutcomeKind,
    *,
    specialist_id: str | None = None,
    local_service_id: str | None = None,
    consultation_id: str | None = None,
) -> Outcome:
    async with ctx.sessionmaker.begin() as db:
        case = await case_for(db, ctx, staff, case_id, Action.RECORD_OUTCOME)
        fields = await _outcome_problems(db, kind, specialist_id, local_service_id)
        if fields:
            raise InvalidInput("the outcome is not complete", fields)
        outcome = Outcome(
            case_id=case_id,
            consultation_id=consultation_id,
            kind=kind,
            specialist_id=specialist_id if kind == OutcomeKind.SPECIALIST else None,
            local_service_id=local_service_id if kind == OutcomeKind.REFERRAL else None,
            by=staff.id,
        )
        db.add(outcome)
        if kind == OutcomeKind.CLOSED_AFTER_SUPPORT:
            case.status = CaseStatus.CLOSED
        elif case.status == CaseStatus.CLOSED:
            case.status = CaseStatus.OPEN
        if (
            kind == OutcomeKind.SPECIALIST
            and specialist_id
            and await db.get(CaseWorker, (case_id, specialist_id)) is None
        ):
            db.add(CaseWorker(case_id=case_id, staff_id=specialist_id, shared_by=actors.staff(staff.id)))
        await db.flush()
        await audit_access(db, staff, "record_outcome", "outcome", str(outcome.id), case_id)
    return outcome


async def _outcome_problems(
    db: AsyncSession, kind: OutcomeKind, specialist_id: str | None, local_service_id: str | None
) -> dict[str, str]:
    if kind == OutcomeKind.SPECIALIST:
        specialist = await db.get(Staff, specialist_id) if specialist_id else None
        if specialist is None or not specialist.active:
            return {"specialist_id": "required"}
    if kind == OutcomeKind.REFERRAL:
        service = await db.get(LocalService, local_service_id) if local_service_id else None
        if service is None or not service.active:
            return {"local_service_id": "required"}
    return {}


async def record_safety_step(ctx: Context, staff: Staff, case_id: str, step: str) -> SafetyAction:
    if step not in SAFETY_STEPS:
        raise InvalidInput("unknown step of the safety protocol", {"step": "unknown"})
    async with ctx.sessionmaker.begin() as db:
        await case_for(db, ctx, staff, case_id, Action.SAFETY_STEP)
        action = SafetyAction(case_id=case_id, action=step, by=staff.id)
        db.add(action)
        await db.flush()
        await audit_access(db, staff, "safety_step", "safety_action", str(action.id), case_id)
    return action


async def share_case(ctx: Context, staff: Staff, case_id: str, with_staff_id: str) -> None:
    async with ctx.sessionmaker.begin() as db:
        await case_for(db, ctx, staff, case_id, Action.SHARE)
        other = await db.get(Staff, with_staff_id)
        if other is None or not other.active:
            raise InvalidInput("no such colleague", {"staff_id": "unknown"})
        if await db.get(CaseWorker, (case_id, with_staff_id)) is None:
            db.add(CaseWorker(case_id=case_id, staff_id=with_staff_id, shared_by=actors.staff(staff.id)))
        await audit_access(db, staff, "share", "case", case_id, case_id)


async def flag_case(ctx: Context, staff: Staff, case_id: str, flagged: bool) -> None:
    async with ctx.sessionmaker.begin() as db:
        case = await case_for(db, ctx, staff, case_id, Action.FLAG)
        case.flagged = flagged
        await audit_access(db, staff, "flag" if flagged else "unflag", "case", case_id, case_id)


async def set_intake(ctx: Context, staff: Staff, case_id: str, reason: Reason, channel: Channel) -> None:
    async with ctx.sessionmaker.begin() as db:
        case = await case_for(db, ctx, staff, case_id, Action.RECORD_OUTCOME)
        case.reason, case.channel = reason, channel
        await audit_access(db, staff, "intake", "case", case_id, case_id)


async def audit_rows(db: AsyncSession, case_ids: Sequence[str]) -> list[AuditEvent]:
    """Every audit row about these cases' data, and about the cases merged into them, oldest first (for a
    citizen's export of accesses)."""
    if not case_ids:
        return []
    merged = select(AuditEvent.object_id).where(AuditEvent.action == "merge", AuditEvent.subject.in_(case_ids))
    about = or_(AuditEvent.subject.in_(case_ids), AuditEvent.subject.in_(merged))
    return list(await db.scalars(select(AuditEvent).where(about).order_by(AuditEvent.id)))
