"""The retention job, run in-process from ``cleanup_ctx`` once a day: case notes and review decisions older than
``retention_days`` are deleted, and cases whose last activity is older than that are anonymised (with their
consultations and bookings; :func:`server.cases.rights.anonymise`). Structured figures (reason, channel, risk,
outcomes, times) stay, so the statistics do not change. Each case touched gets one audit row (``actor="system"``,
``retention_purge``) in the same transaction as the purge.

After a round that touched anything, :func:`server.db.scrub` checkpoints and truncates SQLite's write-ahead log,
so that the purged text is not left in the old page versions there (``secure_delete`` zeroes it in the database
file itself).

Several processes may run it against one database: notes are deleted with ``DELETE ... RETURNING`` and a case is
anonymised under ``UPDATE ... WHERE anonymised_at IS NULL``, so each purge is done, and audited, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import ColumnElement, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import actors, audit
from server.cases.rights import anonymise
from server.db import scrub
from server.keys import sessionmaker_key, settings_key
from server.models import (
    Booking,
    Case,
    CaseNote,
    Consultation,
    Outcome,
    ReviewDecision,
    RiskAssessment,
    SafetyAction,
    utcnow,
)
from server.periodic import CleanupContext, periodic_ctx
from server.settings import Settings

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 24 * 3600.0
Sessionmaker = async_sessionmaker[AsyncSession]
Clock = Callable[[], datetime]


def _stale(cutoff: datetime) -> list[ColumnElement[bool]]:
    """A case with no activity since ``cutoff``: opened before it, and nothing about it at or after it."""
    recent = [
        exists().where(RiskAssessment.case_id == Case.id, RiskAssessment.at >= cutoff),
        exists().where(Outcome.case_id == Case.id, Outcome.at >= cutoff),
        exists().where(SafetyAction.case_id == Case.id, SafetyAction.at >= cutoff),
        exists().where(CaseNote.case_id == Case.id, CaseNote.created_at >= cutoff),
        exists().where(Consultation.case_id == Case.id, Consultation.starts_at >= cutoff),
        exists().where(Booking.case_id == Case.id, Booking.starts_at >= cutoff),
    ]
    return [Case.anonymised_at.is_(None), Case.opened_at < cutoff, *(~r for r in recent)]


async def _purge_old_text(sessionmaker: Sessionmaker, cutoff: datetime, now: datetime) -> set[str]:
    """Delete notes and review decisions written before ``cutoff``; audit each case once. The cases touched."""
    async with sessionmaker.begin() as db:
        notes = await db.scalars(delete(CaseNote).where(CaseNote.created_at < cutoff).returning(CaseNote.case_id))
        touched = set(notes)
        decisions = await db.scalars(
            delete(ReviewDecision).where(ReviewDecision.at < cutoff).returning(ReviewDecision.case_id)
        )
        touched |= set(decisions)
        for case_id in sorted(touched):
            db.add(audit.event(actors.SYSTEM, "retention_purge", "case", case_id, subject=case_id))
    return touched


async def _anonymise_one(sessionmaker: Sessionmaker, case_id: str, now: datetime, audited: bool) -> bool:
    async with sessionmaker.begin() as db:
        won = await db.scalar(
            update(Case)
            .where(Case.id == case_id, Case.anonymised_at.is_(None))
            .values(anonymised_at=now)
            .returning(Case.id)
            .execution_options(synchronize_session=False)
        )
        if won is None:
            return False  # another process got there first
        case = await db.get(Case, case_id, populate_existing=True)
        assert case is not None
        await anonymise(db, case, now)
        if not audited:
            db.add(audit.event(actors.SYSTEM, "retention_purge", "case", case_id, subject=case_id))
    return True


async def purge_once(sessionmaker: Sessionmaker, settings: Settings, now: datetime | None = None) -> int:
    """One round: purge old notes and decisions, anonymise stale cases. Returns how many cases were touched."""
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.retention_days)
    touched = await _purge_old_text(sessionmaker, cutoff, now)
    async with sessionmaker() as db:
        stale = list(await db.scalars(select(Case.id).where(*_stale(cutoff))))
    anonymised = {c for c in stale if await _anonymise_one(sessionmaker, c, now, audited=c in touched)}
    if touched or anonymised:
        await scrub(sessionmaker)  # SQLite: what was deleted leaves the write-ahead log too
    log.info("retention round", extra={"event": "retention", "cases": len(touched | anonymised)})
    return len(touched | anonymised)


def retention_job(clock: Clock = utcnow, interval: float = INTERVAL_SECONDS) -> CleanupContext:
    """A cleanup context running :func:`purge_once` at start and then every ``interval`` seconds (after
    ``database_ctx``); cancelled and awaited at shutdown."""

    async def round_(app: web.Application) -> int:
        return await purge_once(app[sessionmaker_key], app[settings_key], clock())

    return periodic_ctx("retention", "retention round", interval, round_)


retention_ctx = retention_job()
