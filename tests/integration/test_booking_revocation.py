"""A rescheduled or cancelled booking revokes the citizen's pass: the cookie the old join link was exchanged for
no longer opens ``/call`` (and, being gone, no longer stands for an open socket); on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from scheduling import booking
from scheduling.booking import Booked, ByToken
from server import consultations
from server.identity import CITIZEN_COOKIE
from server.keys import sessionmaker_key, settings_key
from server.models import Consultation, utcnow
from tests.helpers.booking import booking_request, free
from tests.helpers.factories import make_operators, make_service


async def booked_and_joined(client: TestClient[Any, Any]) -> tuple[Booked, str, list[Any]]:
    """A booking whose consultation is moved to now (so that its link opens the call), the pass cookie its join
    link was exchanged for, and the free slots."""
    app = client.app
    service = await make_service(app)
    await make_operators(app, 1)
    slots = await free(app, service)
    booked = await booking.book(
        app[sessionmaker_key], app[settings_key], booking_request(service, slots[0].starts_at), utcnow()
    )
    async with app[sessionmaker_key].begin() as db:
        consultation = await db.get_one(Consultation, booked.booking.consultation_id)
        consultation.starts_at, consultation.ends_at = utcnow(), utcnow() + timedelta(minutes=45)
    joined = await client.get(f"/join/{booked.join_token}", allow_redirects=False)
    secret = joined.cookies[CITIZEN_COOKIE].value
    assert (await client.get("/call")).status == 200
    return booked, secret, slots


async def assert_pass_revoked(client: TestClient[Any, Any], secret: str) -> None:
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({CITIZEN_COOKIE: secret})
    assert (await client.get("/call")).status == 410
    assert await consultations.lookup_pass(client.app[sessionmaker_key], client.app[settings_key], secret) is None


async def test_reschedule_revokes_the_citizens_old_pass(client: TestClient[Any, Any]) -> None:
    booked, secret, slots = await booked_and_joined(client)
    sm, settings = client.app[sessionmaker_key], client.app[settings_key]
    await booking.move(sm, settings, ByToken(booked.manage_token), slots[1].starts_at, utcnow())
    await assert_pass_revoked(client, secret)


async def test_cancel_revokes_the_citizens_pass(client: TestClient[Any, Any]) -> None:
    booked, secret, _ = await booked_and_joined(client)
    sm, settings = client.app[sessionmaker_key], client.app[settings_key]
    await booking.cancel(sm, settings, ByToken(booked.manage_token), utcnow())
    await assert_pass_revoked(client, secret)
