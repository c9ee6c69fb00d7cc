"""The retention job with a controlled clock, on SQLite and PostgreSQL: notes and review decisions older than
the retention are deleted and newer ones kept; a case with no activity within the retention is anonymised with its
consultations; the aggregates (cases by reason, outcomes by kind) do not change; one audit row per case; the job
stops cleanly at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from server import cases
from server.cases import records, retention, review
from server.keys import sessionmaker_key, settings_key
from server.models import AuditEvent, Case, CaseNote, Consultation, Outcome, OutcomeKind, Reason, Role, utcnow
from tests.helpers.factories import make_consultation, make_staff

Client = TestClient[Any, Any]
DAYS = 30


async def aggregates(client: Client) -> tuple[list[Any], list[Any]]:
    async with client.app[sessionmaker_key]() as db:
        by_reason = (
            await db.execute(select(Case.reason, func.count()).group_by(Case.reason).order_by(Case.reason))
        ).all()
        by_outcome = (
            await db.execute(select(Outcome.kind, func.count()).group_by(Outcome.kind).order_by(Outcome.kind))
        ).all()
    return [tuple(r) for r in by_reason], [tuple(r) for r in by_outcome]


async def test_old_notes_are_purged_stale_cases_anonymised_and_the_figures_kept(client: Client) -> None:
    ctx = cases.context(client.app)
    operator = await make_staff(client.app)
    old_c = (
        await make_consultation(client.app, operator, citizen_name="Anna Vecchi", citizen_email="a@x.org")
    ).consultation
    new_c = (
        await make_consultation(client.app, operator, citizen_name="Bruno Nuovi", citizen_email="b@x.org")
    ).consultation
    old = await records.case_of_consultation(ctx, operator, old_c.id)
    new = await records.case_of_consultation(ctx, operator, new_c.id)
    for case in (old, new):
        await records.set_intake(ctx, operator, case.id, Reason.CRIME_VICTIM, case.channel)
        await records.record_outcome(ctx, operator, case.id, OutcomeKind.LEGAL_ADVICE)
    stale_note = await records.write_note(ctx, operator, new.id, "vecchia nota")
    await records.write_note(ctx, operator, new.id, "nota recente")
    await records.write_note(ctx, operator, old.id, "nota del caso vecchio")
    await review.decide(ctx, await make_staff(client.app, role=Role.SUPERVISOR), old.id, "decisione")

    now = utcnow() + timedelta(days=DAYS + 10)  # the clock: everything written today is 40 days old ...
    recent = now - timedelta(days=1)  # ... except what the new case did yesterday
    async with client.app[sessionmaker_key].begin() as db:
        await db.execute(
            update(CaseNote).where(CaseNote.case_id == new.id, CaseNote.id != stale_note.id).values(created_at=recent)
        )
        await db.execute(update(Consultation).where(Consultation.id == new_c.id).values(starts_at=recent))
    figures = await aggregates(client)
    settings = replace(client.app[settings_key], retention_days=DAYS)

    assert await retention.purge_once(client.app[sessionmaker_key], settings, now) == 2
    async with client.app[sessionmaker_key]() as db:
        notes = list(await db.scalars(select(CaseNote.case_id)))
        assert notes == [new.id]  # the new case's recent note only
        anonymised = await db.get(Case, old.id)
        kept = await db.get(Case, new.id)
        assert anonymised is not None and anonymised.anonymised_at is not None
        assert (anonymised.citizen_name, anonymised.citizen_email) == ("—", "")
        assert kept is not None and kept.anonymised_at is None and kept.citizen_name == "Bruno Nuovi"
        assert await db.scalar(select(Consultation.citizen_name).where(Consultation.id == old_c.id)) == "—"
        rows = list(
            await db.scalars(
                select(AuditEvent.subject).where(AuditEvent.actor == "system").order_by(AuditEvent.subject)
            )
        )
    assert sorted(rows) == sorted([old.id, new.id])  # one row per purged case
    assert await aggregates(client) == figures
    # A second round (or another process) finds nothing more to do.
    assert await retention.purge_once(client.app[sessionmaker_key], settings, now) == 0


async def test_the_job_runs_on_its_clock_and_stops_cleanly(client: Client) -> None:
    ticks: list[object] = []

    def clock() -> Any:
        ticks.append(None)
        return utcnow()

    ctx = retention.retention_job(clock=clock, interval=0.05)(client.app)
    await ctx.__anext__()
    for _ in range(100):
        if len(ticks) >= 2:
            break
        await asyncio.sleep(0.02)
    assert len(ticks) >= 2
    with contextlib.suppress(StopAsyncIteration):
        await ctx.__anext__()
    count = len(ticks)
    await asyncio.sleep(0.15)
    assert len(ticks) == count  # stopped
