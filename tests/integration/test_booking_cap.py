"""The per-operator daily cap is enforced by the database (the ``booking_day`` counter), also when bookings race,
and cancel and move give a place under the cap back; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from scheduling import booking
from scheduling.booking import ByToken, SlotTaken
from scheduling.slots import local_day
from server.errors import InvalidInput
from server.keys import sessionmaker_key, settings_key
from server.models import Booking, BookingStatus, Staff, utcnow
from tests.helpers.booking import booking_request, free, full_day
from tests.helpers.factories import make_operators, make_service
from tests.helpers.web import MakeClient

CAP = 3
RACERS = 8


@pytest.fixture
async def app(make_client: MakeClient) -> web.Application:
    client: TestClient[Any, Any] = await make_client()
    return client.app


async def capped_operator(app: web.Application, cap: int) -> Staff:
    (operator,) = await make_operators(app, 1)
    async with app[sessionmaker_key].begin() as db:
        (await db.get_one(Staff, operator.id)).daily_cap = cap
    return operator


async def active_on(app: web.Application, operator: Staff, day: object) -> int:
    async with app[sessionmaker_key]() as db:
        starts = await db.scalars(
            select(Booking.starts_at).where(Booking.operator_id == operator.id, Booking.status == BookingStatus.ACTIVE)
        )
        return sum(1 for start in starts if local_day(start) == day)


async def test_concurrent_bookings_of_one_operator_and_day_stop_at_the_daily_cap(app: web.Application) -> None:
    service = await make_service(app)
    operator = await capped_operator(app, CAP)
    day = full_day(await free(app, service), at_least=RACERS)[:RACERS]
    sm, settings = app[sessionmaker_key], app[settings_key]
    results = await asyncio.gather(
        *(booking.book(sm, settings, booking_request(service, slot.starts_at), utcnow()) for slot in day),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, booking.Booked)]
    refused = [r for r in results if isinstance(r, SlotTaken | InvalidInput)]
    assert (len(won), len(refused)) == (CAP, RACERS - CAP), results
    assert await active_on(app, operator, local_day(day[0].starts_at)) == CAP


async def test_cancel_and_move_give_back_a_place_under_the_daily_cap(app: web.Application) -> None:
    service = await make_service(app)
    operator = await capped_operator(app, 1)
    slots = await free(app, service)
    first_day = full_day(slots)
    other_day = next(s for s in slots if local_day(s.starts_at) > local_day(first_day[0].starts_at))
    sm, settings = app[sessionmaker_key], app[settings_key]
    first = await booking.book(sm, settings, booking_request(service, first_day[0].starts_at), utcnow())
    with pytest.raises(InvalidInput):  # the cap is reached for that day
        await booking.book(sm, settings, booking_request(service, first_day[1].starts_at), utcnow())
    await booking.move(sm, settings, ByToken(first.manage_token), other_day.starts_at, utcnow())
    second = await booking.book(sm, settings, booking_request(service, first_day[1].starts_at), utcnow())
    await booking.cancel(sm, settings, ByToken(second.manage_token), utcnow())
    await booking.book(sm, settings, booking_request(service, first_day[2].starts_at), utcnow())
    assert await active_on(app, operator, local_day(first_day[0].starts_at)) == 1
    async with sm() as db:
        total = await db.scalar(select(func.count()).select_from(Booking).where(Booking.status == "active"))
    assert total == 2
