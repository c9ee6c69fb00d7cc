"""Every contact belongs to a case: the background linker puts bookings (and their consultations) and
consultations in the case they are tied to, or opens one of their own dated from the contact (a match by email or
phone with an open case is only a suggestion), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server import cases
from server.cases import records
from server.cases.linking import link_pending
from server.keys import sessionmaker_key
from server.models import (
    AuditEvent,
    Booking,
    BookingChannel,
    BookingMode,
    BookingStatus,
    Case,
    CaseWorker,
    Channel,
    Consultation,
)
from server.models.cases import CaseSuggestion
from tests.helpers.booking import booking_body, free
from tests.helpers.factories import make_consultation, make_operators, make_service, make_staff
from web.api.ratelimit import limiter_key

Client = TestClient[Any, Any]


async def test_each_contact_gets_its_own_case_and_a_match_is_only_suggested(client: Client) -> None:
    maker = client.app[sessionmaker_key]
    operator = await make_staff(client.app)
    first = (await make_consultation(client.app, operator, citizen_email="maria@example.org")).consultation
    second = (await make_consultation(client.app, operator, citizen_email="maria@example.org")).consultation
    other = await make_consultation(client.app, operator, citizen_name="Luca", citizen_phone="+39 333 1234567")
    assert await link_pending(maker) == 3
    assert await link_pending(maker) == 0  # nothing left: a contact is linked once
    async with maker() as db:
        linked = {c.id: c.case_id for c in await db.scalars(select(Consultation))}
        maria = await db.get(Case, linked[first.id])
        workers = list(await db.scalars(select(CaseWorker.staff_id).where(CaseWorker.case_id == linked[first.id])))
        actions = list(await db.scalars(select(AuditEvent.action).where(AuditEvent.actor == "system")))
        suggested = [(s.case_id, s.new_case_id, s.matched_on) for s in await db.scalars(select(CaseSuggestion))]
    assert len({linked[first.id], linked[second.id], linked[other.consultation.id]}) == 3
    assert suggested == [(linked[first.id], linked[second.id], "email")]
    assert maria is not None and maria.opened_at == first.created_at and maria.channel == Channel.SWITCHBOARD
    assert workers == [operator.id]
    assert sorted(actions) == ["create", "create", "create", "link", "link", "link", "suggest"]
    ctx = cases.context(client.app)
    assert (await records.case_of_consultation(ctx, operator, second.id)).id == linked[second.id]  # already linked


async def test_a_follow_up_tied_to_its_case_joins_it_with_its_consultation(client: Client) -> None:
    """A contact that carries its case (a follow-up booked from the case) goes in that case, without a suggestion;
    its consultation follows its booking."""
    maker = client.app[sessionmaker_key]
    operator = await make_staff(client.app)
    made = (await make_consultation(client.app, operator, citizen_email="maria@example.org")).consultation
    case = await records.case_of_consultation(cases.context(client.app), operator, made.id)
    follow_up = (await make_consultation(client.app, operator, citizen_email="maria@example.org")).consultation
    service = await make_service(client.app)
    async with maker.begin() as db:
        db.add(
            Booking(
                service_id=service.id, operator_id=operator.id, consultation_id=follow_up.id, case_id=case.id,
                starts_at=follow_up.starts_at, ends_at=follow_up.ends_at, blocked_until=follow_up.ends_at,
                mode=BookingMode.VIDEO, status=BookingStatus.ACTIVE, channel=BookingChannel.FOLLOW_UP,
                citizen_name="Maria", citizen_email="maria@example.org", citizen_phone="",
                booked_by=f"staff:{operator.id}", manage_token_hash="x",
            )
        )  # fmt: skip
    assert await link_pending(maker) == 1
    async with maker() as db:
        linked = await db.get(Consultation, follow_up.id)
        assert await db.scalar(select(CaseSuggestion)) is None
    assert linked is not None and linked.case_id == case.id


async def test_an_online_booking_and_its_consultation_join_one_case(make_client: Any) -> None:
    api: Client = await make_client()
    api.app[limiter_key].limits = {}
    service = await make_service(api.app)
    await make_operators(api.app, 1)
    slot = (await free(api.app, service))[0]
    assert (await api.post("/api/v1/bookings", json=booking_body(slot))).status == 201
    maker = api.app[sessionmaker_key]
    assert await link_pending(maker) >= 1
    async with maker() as db:
        booking = await db.scalar(select(Booking))
        assert booking is not None and booking.case_id is not None
        consultation = await db.get(Consultation, booking.consultation_id)
        case = await db.get(Case, booking.case_id)
    assert consultation is not None and consultation.case_id == booking.case_id
    assert case is not None and case.channel == Channel.ONLINE and case.opened_by == "citizen"
    assert case.first_session_at == booking.starts_at and case.citizen_email == "maria@example.org"


async def test_two_linkers_at_once_link_each_contact_once_with_one_suggestion(client: Client) -> None:
    """Several processes link at once: each contact gets one case, each match one suggestion (the loser of a race
    rolls back its case, its suggestions and its audit rows)."""
    maker = client.app[sessionmaker_key]
    operator = await make_staff(client.app)
    for _ in range(4):
        await make_consultation(client.app, operator, citizen_phone="+39 333 1234567")
    done = await asyncio.gather(link_pending(maker), link_pending(maker), link_pending(maker))
    assert sum(done) == 4
    async with maker() as db:
        cases_made = await db.scalar(select(func.count()).select_from(Case))
        linked = set(await db.scalars(select(Consultation.case_id)))
        pairs = [(s.case_id, s.new_case_id) for s in await db.scalars(select(CaseSuggestion))]
    assert cases_made == 4 and len(linked) == 4 and None not in linked
    assert len(pairs) == len(set(pairs)) and all(a in linked and b in linked for a, b in pairs)
