"""Acting on a suggestion that two cases are the same person (:mod:`server.cases.linking` makes them): merging
the new case into the existing one, or dismissing the suggestion. Both are explicit acts of a staff member,
checked by :mod:`server.cases.policy` and audited in the same transaction as the change.

Who may merge: someone with ``MERGE`` on both cases (:mod:`server.cases.policy`), because a merge shows each
case's record to the other's workers: a supervisor who sees every case, or an operator who has both (the new
case shared with them). Who may dismiss: anyone who sees the suggestion (``SUGGESTIONS`` on the existing case).

A merge moves everything of the new case into the existing one (consultations, bookings, risk assessments,
outcomes, safety steps, notes and review decisions, sealed again for their new case), makes the new case's
workers workers of the existing case (this act is the only way a match gives anyone a case), and deletes the new
case. Two merges of one case cannot both happen: both cases' rows are locked, in id order, first.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import actors
from server.cases.policy import Action
from server.cases.records import Context, audit_access, case_for, decision_place, note_place
from server.errors import NotFound
from server.models import (
    Booking,
    Case,
    CaseNote,
    CaseWorker,
    Consultation,
    Outcome,
    ReviewDecision,
    RiskAssessment,
    SafetyAction,
    Staff,
    utcnow,
)
from server.models.cases import CaseSuggestion

MOVED = (Consultation, Booking, RiskAssessment, Outcome, SafetyAction)  # rows that only change their case_id


async def _suggestion(db: AsyncSession, case_id: str, suggestion_id: str) -> CaseSuggestion:
    """The open suggestion ``suggestion_id`` on the case ``case_id``, else NotFound."""
    found = await db.get(CaseSuggestion, int(suggestion_id)) if suggestion_id.isdigit() else None
    if found is None or found.case_id != case_id or found.dismissed_at is not None:
        raise NotFound("no such suggestion")
    return found


async def dismiss(ctx: Context, staff: Staff, case_id: str, suggestion_id: str) -> None:
    """Dismiss a suggestion (audited ``dismiss_suggestion``); it is kept, so that it is not made again."""
    async with ctx.sessionmaker.begin() as db:
        await case_for(db, ctx, staff, case_id, Action.SUGGESTIONS)
        suggestion = await _suggestion(db, case_id, suggestion_id)
        suggestion.dismissed_by, suggestion.dismissed_at = actors.staff(staff.id), utcnow()
        await audit_access(db, staff, "dismiss_suggestion", "case_suggestion", str(suggestion.id), case_id)


async def merge(ctx: Context, staff: Staff, case_id: str, suggestion_id: str) -> Case:
    """Merge the suggestion's new case into the case ``case_id`` (audited ``merge`` on the case, object the new
    case, and ``merged_away`` on the new case). Refused, and audited as such, without MERGE on both."""
    async with ctx.sessionmaker.begin() as db:
        await case_for(db, ctx, staff, case_id, Action.MERGE)
        new_id = (await _suggestion(db, case_id, suggestion_id)).new_case_id
        ids = sorted((case_id, new_id))
        locked = await db.scalars(select(Case.id).where(Case.id.in_(ids)).order_by(Case.id).with_for_update())
        if len(list(locked)) != 2:
            raise NotFound("the case was merged meanwhile")
        case = await db.get(Case, case_id, populate_existing=True)
        assert case is not None  # locked above
        new = await case_for(db, ctx, staff, new_id, Action.MERGE)
        await _move(db, ctx, staff, case, new)
        await audit_access(db, staff, "merge", "case", new.id, case.id)
        await audit_access(db, staff, "merged_away", "case", case.id, new.id)
    return case


async def _move(db: AsyncSession, ctx: Context, staff: Staff, case: Case, new: Case) -> None:
    for model in MOVED:
        await db.execute(
            update(model)
            .where(model.case_id == new.id)
            .values(case_id=case.id)
            .execution_options(synchronize_session=False)
        )
    for note in await db.scalars(select(CaseNote).where(CaseNote.case_id == new.id)):
        text = ctx.keyring.open(note.sealed, note_place(new.id))
        note.case_id, note.sealed = case.id, ctx.keyring.seal(text, note_place(case.id))
    for decision in await db.scalars(select(ReviewDecision).where(ReviewDecision.case_id == new.id)):
        text = ctx.keyring.open(decision.sealed, decision_place(new.id))
        decision.case_id, decision.sealed = case.id, ctx.keyring.seal(text, decision_place(case.id))
    for staff_id in await db.scalars(select(CaseWorker.staff_id).where(CaseWorker.case_id == new.id)):
        if await db.get(CaseWorker, (case.id, staff_id)) is None:
            db.add(CaseWorker(case_id=case.id, staff_id=staff_id, shared_by=actors.staff(staff.id)))
    if new.first_session_at is not None and (
        case.first_session_at is None or new.first_session_at < case.first_session_at
    ):
        case.first_session_at = new.first_session_at
    case.flagged = case.flagged or new.flagged
    latest = await db.scalar(
        select(RiskAssessment)
        .where(RiskAssessment.case_id == case.id)
        .order_by(RiskAssessment.at.desc(), RiskAssessment.id.desc())
        .limit(1)
    )
    if latest is not None:
        case.risk_self, case.risk_others = latest.self_harm, latest.others
    await db.flush()
    await db.execute(
        delete(CaseSuggestion).where(or_(CaseSuggestion.case_id == new.id, CaseSuggestion.new_case_id == new.id))
    )
    await db.execute(delete(CaseWorker).where(CaseWorker.case_id == new.id))
    await db.execute(delete(Case).where(Case.id == new.id))
