"""Booking in the domain (scheduling.booking) against a real app and database, on SQLite and PostgreSQL: rows,
tokens, consent, emails, fair assignment, cancel, move, and the database as the arbiter of a race."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from scheduling import booking
from scheduling.booking import ByStaff, ByToken, SlotTaken
from server.crypto import digest, join_digest
from server.errors import Forbidden, InvalidInput
from server.keys import sessionmaker_key, settings_key
from server.models import (
    AuditEvent,
    Booking,
    BookingChannel,
    BookingStatus,
    Consultation,
    ConsultationStatus,
    OutboxMessage,
    Role,
    Staff,
    utcnow,
)
from tests.helpers.booking import booking_request, free, full_day
from tests.helpers.factories import count, make_operators, make_service
from tests.helpers.web import MakeClient


class Links:
    def join(self, token: str) -> str:
        return f"https://ascolto.test/join/{token}"

    def manage(self, token: str) -> str:
        return f"https://ascolto.test/booking/{token}"

    def book_again(self) -> str:
        return "https://ascolto.test/"


@pytest.fixture
async def app(make_client: MakeClient) -> web.Application:
    client: TestClient[Any, Any] = await make_client()
    return client.app


async def test_book_writes_the_booking_and_its_consultation_in_one_go(app: web.Application) -> None:
    service = await make_service(app)
    (operator,) = await make_operators(app, 1)
    slot = (await free(app, service))[0]
    now = utcnow()
    booked = await booking.book(
        app[sessionmaker_key], app[settings_key], booking_request(service, slot.starts_at), now, links=Links()
    )
    async with app[sessionmaker_key]() as db:
        row = await db.get(Booking, booked.booking.id)
        assert row is not None and row.consultation_id
        consultation = await db.get(Consultation, row.consultation_id)
        events = (await db.scalars(select(AuditEvent).where(AuditEvent.object_id == row.id))).all()
        kinds = set((await db.scalars(select(OutboxMessage.kind).where(OutboxMessage.booking_id == row.id))).all())
    assert consultation is not None
    assert (row.operator_id, row.status, row.channel) == (operator.id, BookingStatus.ACTIVE, BookingChannel.ONLINE)
    assert (
        (consultation.starts_at, consultation.ends_at) == (row.starts_at, row.ends_at) == (slot.starts_at, slot.ends_at)
    )
    assert row.blocked_until == row.ends_at + timedelta(minutes=service.buffer_minutes)
    # Only digests are stored; the tokens are handed out once.
    assert consultation.token_hash == join_digest(booked.join_token)
    assert row.manage_token_hash == digest(booked.manage_token)
    assert row.privacy_accepted_at == now and row.verbal_consent_by is None
    assert [(e.actor, e.action) for e in events] == [("citizen", "create")]
    assert "confirmation" in kinds


async def test_switchboard_books_with_a_phone_and_verbal_consent(app: web.Application) -> None:
    service = await make_service(app)
    await make_operators(app, 1)
    (switchboard,) = await make_operators(app, 1, Role.SWITCHBOARD)
    slot = (await free(app, service))[0]
    now = utcnow()
    request = booking_request(
        service, slot.starts_at, citizen_email="", citizen_phone="+39 333 1234567", privacy_accepted=False
    )
    with pytest.raises(InvalidInput) as refused:
        await booking.book(app[sessionmaker_key], app[settings_key], replace(request, staff=switchboard), now)
    assert refused.value.fields == {"verbal_consent": "required"}
    booked = await booking.book(
        app[sessionmaker_key], app[settings_key], replace(request, staff=switchboard, verbal_consent=True), now,
        links=Links(),
    )  # fmt: skip
    row = booked.booking
    assert row.channel == BookingChannel.SWITCHBOARD and row.booked_by == f"staff:{switchboard.id}"
    assert (row.verbal_consent_by, row.verbal_consent_at) == (f"staff:{switchboard.id}", now)
    assert row.privacy_accepted_at is None
    assert await count(app, OutboxMessage, OutboxMessage.booking_id == row.id) == 0  # no email address: no email


async def test_fair_assignment_spreads_bookings_across_operators(app: web.Application) -> None:
    service = await make_service(app)
    operators = await make_operators(app, 3)
    day = full_day(await free(app, service))
    chosen = []
    for _ in range(3):
        done = await booking.book(
            app[sessionmaker_key], app[settings_key], booking_request(service, day[0].starts_at), utcnow()
        )
        chosen.append(done.booking.operator_id)
    assert sorted(chosen) == sorted(op.id for op in operators)  # one slot, three operators: each gets one
    for slot in day[1:4]:
        done = await booking.book(
            app[sessionmaker_key], app[settings_key], booking_request(service, slot.starts_at), utcnow()
        )
        chosen.append(done.booking.operator_id)
    assert sorted(chosen.count(op.id) for op in operators) == [2, 2, 2]


async def test_concurrent_bookings_of_one_slot_one_wins(app: web.Application) -> None:
    service = await make_service(app)
    await make_operators(app, 2)
    slot = (await free(app, service))[0]
    results = await asyncio.gather(
        *(
            booking.book(app[sessionmaker_key], app[settings_key], booking_request(service, slot.starts_at), utcnow())
            for _ in range(8)
        ),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, booking.Booked)]
    lost = [r for r in results if isinstance(r, SlotTaken)]
    assert (len(won), len(lost)) == (2, 6), results  # two operators: two sessions, no more
    assert all(r.alternatives and slot.starts_at not in {a.starts_at for a in r.alternatives} for r in lost)
    assert await count(app, Booking, Booking.starts_at == slot.starts_at) == 2


async def test_cancel_frees_the_slot_and_ends_the_link(app: web.Application) -> None:
    service = await make_service(app)
    await make_operators(app, 1)
    slot = (await free(app, service))[0]
    sm, settings = app[sessionmaker_key], app[settings_key]
    first = await booking.book(sm, settings, booking_request(service, slot.starts_at), utcnow())
    with pytest.raises(SlotTaken):
        await booking.book(sm, settings, booking_request(service, slot.starts_at), utcnow())
    cancelled = await booking.cancel(sm, settings, ByToken(first.manage_token), utcnow(), links=Links())
    assert cancelled.status == BookingStatus.CANCELLED
    again = await booking.cancel(sm, settings, ByToken(first.manage_token), utcnow())  # idempotent
    assert again.cancelled_at == cancelled.cancelled_at
    async with sm() as db:
        consultation = await db.get(Consultation, first.booking.consultation_id)
    assert consultation is not None and consultation.status == ConsultationStatus.ENDED
    second = await booking.book(sm, settings, booking_request(service, slot.starts_at), utcnow())
    assert second.booking.operator_id == first.booking.operator_id


async def test_move_keeps_the_operator_and_reissues_the_join_link(app: web.Application) -> None:
    service = await make_service(app)
    await make_operators(app, 2)
    slots = await free(app, service)
    sm, settings = app[sessionmaker_key], app[settings_key]
    first = await booking.book(sm, settings, booking_request(service, slots[0].starts_at), utcnow())
    moved = await booking.move(sm, settings, ByToken(first.manage_token), slots[2].starts_at, utcnow(), links=Links())
    assert moved.booking.starts_at == slots[2].starts_at and moved.manage_token is None
    assert moved.booking.operator_id == first.booking.operator_id
    async with sm() as db:
        consultation = await db.get(Consultation, first.booking.consultation_id)
        kinds = (await db.scalars(select(OutboxMessage.kind).where(OutboxMessage.booking_id == first.booking.id))).all()
    assert consultation is not None and consultation.starts_at == slots[2].starts_at
    assert consultation.token_hash == join_digest(moved.join_token) != join_digest(first.join_token)
    assert "moved" in kinds
    # The old time is free again.
    await booking.book(sm, settings, booking_request(service, slots[0].starts_at, operator_id=None), utcnow())


async def test_move_onto_a_taken_slot_is_refused(app: web.Application) -> None:
    service = await make_service(app)
    (operator,) = await make_operators(app, 1)
    (switchboard,) = await make_operators(app, 1, Role.SWITCHBOARD)
    slots = await free(app, service)
    sm, settings = app[sessionmaker_key], app[settings_key]
    first = await booking.book(sm, settings, booking_request(service, slots[0].starts_at), utcnow())
    await booking.book(sm, settings, booking_request(service, slots[1].starts_at), utcnow())
    with pytest.raises(SlotTaken) as taken:
        await booking.move(sm, settings, ByStaff(switchboard, first.booking.id), slots[1].starts_at, utcnow())
    assert taken.value.alternatives
    async with sm() as db:
        row = await db.get(Booking, first.booking.id)
    assert row is not None and row.starts_at == slots[0].starts_at and row.operator_id == operator.id


async def test_an_operator_changes_only_their_own_bookings(app: web.Application) -> None:
    service = await make_service(app)
    owner, other = await make_operators(app, 2)
    slot = (await free(app, service))[0]
    sm, settings = app[sessionmaker_key], app[settings_key]
    done = await booking.book(
        sm,
        settings,
        booking_request(service, slot.starts_at, operator_id=owner.id, staff=owner, verbal_consent=True),
        utcnow(),
    )
    assert done.booking.channel == BookingChannel.FOLLOW_UP
    with pytest.raises(Forbidden):
        await booking.cancel(sm, settings, ByStaff(other, done.booking.id), utcnow())
    cancelled = await booking.cancel(sm, settings, ByStaff(owner, done.booking.id), utcnow())
    assert cancelled.status == BookingStatus.CANCELLED


async def test_move_within_the_day_of_an_operator_at_their_cap(app: web.Application) -> None:
    service = await make_service(app)
    (operator,) = await make_operators(app, 1)
    async with app[sessionmaker_key].begin() as db:
        (await db.get_one(Staff, operator.id)).daily_cap = 1
    day = full_day(await free(app, service))
    sm, settings = app[sessionmaker_key], app[settings_key]
    first = await booking.book(sm, settings, booking_request(service, day[0].starts_at), utcnow())
    with pytest.raises(InvalidInput):  # the cap is reached for that day
        await booking.book(sm, settings, booking_request(service, day[1].starts_at), utcnow())
    moved = await booking.move(sm, settings, ByToken(first.manage_token), day[1].starts_at, utcnow())
    assert moved.booking.starts_at == day[1].starts_at  # the booking being moved does not count twice
