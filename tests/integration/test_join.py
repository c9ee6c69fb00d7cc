"""The citizen's join link: token exchange, clean URL, time window, calm pages."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server import consultations
from server.identity import CITIZEN_COOKIE
from server.keys import sessionmaker_key
from server.models import AuditEvent, CitizenPass, Consultation, utcnow
from tests.helpers.factories import make_consultation, make_staff


async def test_the_link_becomes_a_cookie_and_a_clean_url(client: TestClient[Any, Any]) -> None:
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator, citizen_name="Maria")
    response = await client.get(f"/join/{new.token}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/call"
    cookie = response.cookies[CITIZEN_COOKIE]
    assert cookie["httponly"] and cookie["path"] == "/" and cookie["samesite"] == "Lax"
    assert new.token not in cookie.value
    assert response.headers["Referrer-Policy"] == "no-referrer"

    page = await client.get("/call")
    assert page.status == 200
    html = await page.text()
    assert new.token not in html
    assert "<title>Appuntamento</title>" in html  # a neutral tab title
    assert 'data-room="' + new.consultation.id + '"' in html
    assert page.headers["Cache-Control"] == "no-store"


async def test_only_digests_are_stored(client: TestClient[Any, Any]) -> None:
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator)
    response = await client.get(f"/join/{new.token}", allow_redirects=False)
    secret = response.cookies[CITIZEN_COOKIE].value
    async with client.app[sessionmaker_key]() as db:
        stored = await db.get(Consultation, new.consultation.id)
        passes = list(await db.scalars(select(CitizenPass)))
    assert stored is not None and new.token not in stored.token_hash
    assert [p.id_hash for p in passes] != [secret] and len(passes) == 1


async def test_opening_the_link_again_moves_the_seat_to_the_new_device(client: TestClient[Any, Any]) -> None:
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator)
    first = (await client.get(f"/join/{new.token}", allow_redirects=False)).cookies[CITIZEN_COOKIE].value
    second = (await client.get(f"/join/{new.token}", allow_redirects=False)).cookies[CITIZEN_COOKIE].value
    assert first != second
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({CITIZEN_COOKIE: first})
    stale = await client.get("/call")
    assert stale.status == 410
    assert "Questo link non è attivo" in await stale.text()


async def test_too_early_shows_when_to_come_back_then_opens_by_itself(client: TestClient[Any, Any]) -> None:
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator, starts_at=utcnow() + timedelta(hours=2))
    response = await client.get(f"/join/{new.token}", allow_redirects=False)
    assert response.status == 303 and CITIZEN_COOKIE not in response.cookies
    page = await client.get("/call")
    html = await page.text()
    assert page.status == 200
    assert "Il colloquio non è ancora iniziato" in html
    assert "02 0202" in html and "112" in html
    assert 'http-equiv="refresh"' in html
    assert new.token not in html

    # Time passes: the consultation is moved to now; the same page now opens the call.
    async with client.app[sessionmaker_key].begin() as db:
        stored = await db.get(Consultation, new.consultation.id)
        assert stored is not None
        stored.starts_at = utcnow()
    page = await client.get("/call")
    assert page.status == 200
    assert 'id="call"' in await page.text()


@pytest.mark.parametrize("late_minutes", [60 + 31, 600])
async def test_expired_links_get_a_calm_page(client: TestClient[Any, Any], late_minutes: int) -> None:
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator, starts_at=utcnow() - timedelta(minutes=late_minutes))
    page = await client.get(f"/join/{new.token}")
    assert page.status == 410
    assert page.url.path == "/call"
    html = await page.text()
    assert "Questo link non è attivo" in html and "02 0202" in html and "112" in html
    assert "Traceback" not in html


async def test_unknown_or_absurd_tokens_get_the_same_calm_page(client: TestClient[Any, Any]) -> None:
    for token in ("nope", "x" * 5000):
        page = await client.get(f"/join/{token}")
        assert page.status == 410
        assert "Questo link non è attivo" in await page.text()


async def test_an_ended_consultation_says_so(client: TestClient[Any, Any]) -> None:
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator)
    await client.get(f"/join/{new.token}", allow_redirects=False)
    await consultations.end_consultation(client.app[sessionmaker_key], new.consultation.id, "staff:x")
    page = await client.get("/call")
    assert page.status == 410
    assert "Il colloquio è terminato" in await page.text()
    client.session.cookie_jar.clear()
    again = await client.get(f"/join/{new.token}")  # the link itself no longer opens anything
    assert again.status == 410
    assert CITIZEN_COOKIE not in again.cookies


async def test_the_page_speaks_english_on_request(client: TestClient[Any, Any]) -> None:
    page = await client.get("/call", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "This link is not active" in await page.text()
    switched = await client.get("/?lang=en")
    assert switched.cookies["lang"].value == "en"
    assert '<html lang="en">' in await (await client.get("/")).text()


async def test_opening_a_link_is_audited_and_never_logged(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator, citizen_name="Ginevra Segreta")
    await client.get(f"/join/{new.token}")
    assert "GET /join/… 303" in caplog.text  # the access log saw the request, without its token
    assert new.token not in caplog.text and "Ginevra" not in caplog.text
    async with client.app[sessionmaker_key]() as db:
        opened = await db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "open_link"))
    assert opened == 1
