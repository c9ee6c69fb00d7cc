"""The team review: the cases awaiting the weekly meeting's evaluation (by code only) and the decisions taken on
them (sealed like notes), checked by :mod:`server.cases.policy` and audited like every access to case data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from server import actors, audit
from server.cases.policy import Action, allowed
from server.cases.records import MAX_NOTE, Context, audit_access, decision_place, refused
from server.errors import Forbidden, InvalidInput, NotFound
from server.models import Case, CaseStatus, Outcome, ReviewDecision, RiskLevel, Staff


@dataclass(frozen=True)
class Awaiting:
    """A case awaiting the team's evaluation, by code only, and why."""

    id: str
    code: str
    why: tuple[str, ...]  # "new", "flagged", "high_risk", "no_outcome"
    opened_at: datetime


async def review_queue(ctx: Context, staff: Staff) -> list[Awaiting]:
    """Cases to evaluate at the weekly meeting: new since the last decision, flagged, at high risk, or with no
    outcome yet (open cases only). One audit row for the list."""
    if not allowed(staff.role, Action.REVIEW_QUEUE, "other"):
        await refused(ctx, staff, Action.REVIEW_QUEUE, None)
        raise Forbidden("the review queue is for supervisors and coordinators")
    async with ctx.sessionmaker.begin() as db:
        decided = select(ReviewDecision.case_id)
        with_outcome = select(Outcome.case_id)
        rows = await db.execute(
            select(
                Case.id,
                Case.code,
                Case.opened_at,
                Case.flagged,
                or_(Case.risk_self == RiskLevel.HIGH, Case.risk_others == RiskLevel.HIGH),
                Case.id.in_(decided),
                Case.id.in_(with_outcome),
            )
            .where(Case.status == CaseStatus.OPEN, Case.anonymised_at.is_(None))
            .order_by(Case.opened_at)
        )
        queue = []
        for case_id, code, opened_at, flagged, high, was_decided, has_outcome in rows:
            why = tuple(
                name
                for name, on in (
                    ("new", not was_decided),
                    ("flagged", flagged),
                    ("high_risk", high),
                    ("no_outcome", not has_outcome),
                )
                if on
            )
            if why:
                queue.append(Awaiting(case_id, code, why, opened_at))
        db.add(audit.event(actors.staff(staff.id), "read", "review_queue", "-"))
    return queue


async def decide(ctx: Context, staff: Staff, case_id: str, text: str) -> ReviewDecision:
    """The team's decision on a case (sealed like a note); the case is no longer flagged."""
    text = text.strip()
    if not text or len(text) > MAX_NOTE:
        raise InvalidInput("the decision is empty or too long", {"decision": "required" if not text else "too_long"})
    async with ctx.sessionmaker.begin() as db:
        case = await db.get(Case, case_id)
        if case is None or not allowed(staff.role, Action.REVIEW_DECIDE, "other"):
            await refused(ctx, staff, Action.REVIEW_DECIDE, case_id if case is not None else None)
            raise NotFound("no such case") if case is None else Forbidden("only supervisors record decisions")
        decision = ReviewDecision(case_id=case_id, sealed=ctx.keyring.seal(text, decision_place(case_id)), by=staff.id)
        db.add(decision)
        case.flagged = False
        await db.flush()
        await audit_access(db, staff, "review_decide", "review_decision", str(decision.id), case_id)
    return decision
