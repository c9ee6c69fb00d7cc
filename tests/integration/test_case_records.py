"""Case data in the database, on SQLite and PostgreSQL: opened from a consultation, sealed notes, one audit row
per access (none for a failed one), refusals as 404 or 403 with their own audit row, the append-only audit log,
the team review queue, and rotating the notes key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.exc import DBAPIError

from server import cases
from server.cases import records, review, rotation
from server.cases.records import Context
from server.errors import Forbidden, InvalidInput, NotFound
from server.keys import sessionmaker_key
from server.models import AuditEvent, Case, CaseNote, OutcomeKind, RiskLevel, Role, Staff
from server.sealing import Keyring, SealError, decode_key, load_keyring, new_key
from tests.helpers.factories import make_consultation, make_staff

Client = TestClient[Any, Any]
NOTE = "Racconta di una lite violenta con il fratello; nessun pensiero autolesivo."


async def audit_actions(client: Client) -> list[str]:
    """The audit log's entries about case data (and refusals), oldest first."""
    about_cases = or_(AuditEvent.subject.is_not(None), AuditEvent.action.startswith("refused:"))
    async with client.app[sessionmaker_key]() as db:
        return list(await db.scalars(select(AuditEvent.action).where(about_cases).order_by(AuditEvent.id)))


async def opened_case(client: Client, operator: Staff | None = None) -> tuple[Context, Staff, Case]:
    ctx = cases.context(client.app)
    operator = operator or await make_staff(client.app, name="Dott.ssa Rossi")
    consultation = (await make_consultation(client.app, operator, citizen_email="maria@example.org")).consultation
    return ctx, operator, await records.case_of_consultation(ctx, operator, consultation.id)


async def test_a_case_opens_from_a_consultation_and_a_returning_citizen_is_only_suggested(client: Client) -> None:
    ctx, operator, case = await opened_case(client)
    assert len(case.code) == 6 and case.citizen_email == "maria@example.org"
    again = (await make_consultation(client.app, operator, citizen_email="maria@example.org")).consultation
    second = await records.case_of_consultation(ctx, operator, again.id)
    assert second.id != case.id  # a case of its own: the same email is a suggestion, never a merge
    assert (await records.case_of_consultation(ctx, operator, again.id)).id == second.id  # linked once
    found = await records.read_case(ctx, operator, case.id)
    assert [(s.code, s.matched_on, s.may_merge) for s in found.suggestions or ()] == [(second.code, "email", True)]
    assert (await records.read_case(ctx, operator, second.id)).suggestions == []  # shown on the existing case only
    other = await make_staff(client.app)
    with pytest.raises(NotFound):
        await records.case_of_consultation(ctx, other, again.id)  # not their consultation
    assert await audit_actions(client) == [
        "create",
        "link",
        "create",
        "suggest",
        "link",
        "link",
        "read_notes",
        "read_notes",
        "refused:read",
    ]


async def test_notes_are_sealed_in_the_database_and_each_access_is_one_audit_row(client: Client) -> None:
    ctx, operator, case = await opened_case(client)
    before = len(await audit_actions(client))
    note = await records.write_note(ctx, operator, case.id, NOTE)
    async with client.app[sessionmaker_key]() as db:
        raw = await db.scalar(text("SELECT sealed FROM case_note WHERE id = :id"), {"id": note.id})
    assert isinstance(raw, str) and "fratello" not in raw and NOTE not in raw
    found = await records.read_case(ctx, operator, case.id)
    assert [n.text for n in found.notes or []] == [NOTE]
    await records.assess_risk(ctx, operator, case.id, RiskLevel.LOW, RiskLevel.NONE)
    assert (await audit_actions(client))[before:] == ["write_note", "read_notes", "assess_risk"]
    async with client.app[sessionmaker_key]() as db:
        subjects = list(await db.scalars(select(AuditEvent.subject).where(AuditEvent.subject.is_not(None))))
    assert set(subjects) == {case.id}  # every row says whose data it was, for the citizen's export


async def test_a_failed_write_leaves_no_audit_row_and_nothing_half_written(client: Client) -> None:
    ctx, operator, case = await opened_case(client)
    before = await audit_actions(client)
    with pytest.raises(InvalidInput) as missing:
        await records.record_outcome(ctx, operator, case.id, OutcomeKind.SPECIALIST)  # which specialist?
    assert missing.value.fields == {"specialist_id": "required"}
    with pytest.raises(InvalidInput):
        await records.write_note(ctx, operator, case.id, "   ")
    assert await audit_actions(client) == before
    async with client.app[sessionmaker_key]() as db:
        assert await db.scalar(select(func.count()).select_from(CaseNote)) == 0


@pytest.mark.parametrize(
    ("role", "refusal"),
    [(Role.OPERATOR, NotFound), (Role.SWITCHBOARD, Forbidden), (Role.COORDINATOR, Forbidden)],
)
async def test_refusals_are_404_or_403_and_audited(client: Client, role: Role, refusal: type[Exception]) -> None:
    ctx, _operator, case = await opened_case(client)
    await records.write_note(ctx, _operator, case.id, NOTE)
    stranger = await make_staff(client.app, role=role)
    before = await audit_actions(client)
    with pytest.raises(refusal):
        await records.read_case(ctx, stranger, case.id)
    with pytest.raises(refusal):
        await records.write_note(ctx, stranger, case.id, "nota")
    with pytest.raises(NotFound):
        await records.read_case(ctx, stranger, "no-such-case")  # probing ids learns nothing
    assert (await audit_actions(client))[len(before) :] == ["refused:read", "refused:write_note", "refused:read"]


async def test_supervisors_follow_the_service_policy_and_sharing_opens_a_case(client: Client) -> None:
    ctx, operator, case = await opened_case(client)
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    assert (await records.read_case(ctx, supervisor, case.id)).notes == []
    strict = Context(ctx.sessionmaker, replace(ctx.settings, supervisors_see_all_cases=False), ctx.keyring)
    with pytest.raises(NotFound):
        await records.read_case(strict, supervisor, case.id)
    await records.share_case(ctx, operator, case.id, supervisor.id)
    assert (await records.read_case(strict, supervisor, case.id)).notes == []


async def test_the_audit_log_cannot_be_changed_or_deleted(client: Client) -> None:
    await opened_case(client)
    maker = client.app[sessionmaker_key]
    for statement in (update(AuditEvent).values(actor="someone else"), text("DELETE FROM audit_event")):
        with pytest.raises(DBAPIError, match="audit_append_only"):
            async with maker.begin() as db:
                await db.execute(statement)
    assert await audit_actions(client) == ["create", "link"]


async def test_the_review_queue_and_a_decision(client: Client) -> None:
    ctx, operator, case = await opened_case(client)
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    await records.assess_risk(ctx, operator, case.id, RiskLevel.HIGH, RiskLevel.NONE)
    (waiting,) = await review.review_queue(ctx, supervisor)
    assert (waiting.code, waiting.why) == (case.code, ("new", "flagged", "high_risk", "no_outcome"))
    with pytest.raises(Forbidden):
        await review.review_queue(ctx, operator)
    await review.decide(ctx, supervisor, case.id, "Presa in carico dalla criminologa.")
    for reader in (supervisor, operator):  # the decision is on the case, for those who read its notes
        decisions = (await records.read_case(ctx, reader, case.id)).decisions
        assert [d.text for d in decisions or []] == ["Presa in carico dalla criminologa."]
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    with pytest.raises(Forbidden):
        await records.read_case(ctx, coordinator, case.id)
    (waiting,) = await review.review_queue(ctx, supervisor)
    assert waiting.why == ("high_risk", "no_outcome")
    await records.record_outcome(ctx, operator, case.id, OutcomeKind.CLOSED_AFTER_SUPPORT)
    assert await review.review_queue(ctx, supervisor) == []  # closed


async def test_rotating_the_key_keeps_every_note_readable(client: Client) -> None:
    ctx, operator, case = await opened_case(client)
    await records.write_note(ctx, operator, case.id, NOTE)
    await review.decide(ctx, await make_staff(client.app, role=Role.SUPERVISOR), case.id, "Rivedere tra un mese.")
    rotated = await rotation.rotate(ctx.sessionmaker, ctx.settings)
    assert rotated.values == 2 and rotated.in_file
    keyring = load_keyring(ctx.settings)
    assert keyring.current == decode_key(rotated.key) and keyring.previous == (ctx.keyring.current,)
    after = Context(ctx.sessionmaker, ctx.settings, keyring)
    assert [n.text for n in (await records.read_case(after, operator, case.id)).notes or []] == [NOTE]
    async with ctx.sessionmaker() as db:
        sealed: Sequence[str] = list(await db.scalars(select(CaseNote.sealed)))
    assert all(not keyring.needs_reseal(value) for value in sealed)
    stranger_key = Context(ctx.sessionmaker, ctx.settings, Keyring(decode_key(new_key())))
    with pytest.raises(SealError):
        await records.read_case(stranger_key, operator, case.id)  # a wrong key fails loudly
