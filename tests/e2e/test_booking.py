"""Booking end to end in Chromium: a citizen books on the public page, opens the join link at the session time and
reaches the waiting room; the operator sees the booking in the agenda and the citizen waiting."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.keys import sessionmaker_key
from server.models import Booking, Consultation, OpeningHours, OutboxMessage, Service, utcnow
from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.flows import citizen_knock, operator_login

pytestmark = pytest.mark.e2e


async def open_service(live_server: LiveServer) -> None:
    """A service open every day, all day, bookable with no notice: the nearest slot is at most an hour away."""
    async with live_server.client.app[sessionmaker_key].begin() as db:
        service = Service(slug="emergenza", name="Emergenza psicologica", min_notice_minutes=0)
        db.add(service)
        await db.flush()
        db.add_all(
            OpeningHours(service_id=service.id, weekday=d, opens=time(0, 0), closes=time(23, 59)) for d in range(7)
        )


async def start_now(live_server: LiveServer) -> None:
    """The clock, controlled: move the (only) booking and its consultation so the session starts a minute ago."""
    start = utcnow() - timedelta(minutes=1)
    async with live_server.client.app[sessionmaker_key].begin() as db:
        booking = await db.scalar(select(Booking))
        assert booking is not None
        consultation = await db.get(Consultation, booking.consultation_id)
        assert consultation is not None
        booking.starts_at, booking.ends_at = start, start + timedelta(minutes=45)
        booking.blocked_until = booking.ends_at + timedelta(minutes=15)
        consultation.starts_at, consultation.ends_at = booking.starts_at, booking.ends_at


async def link_in_the_email(live_server: LiveServer, to: str) -> str:
    """The join link as the citizen receives it: from the confirmation email (kept in the outbox, as on a server
    without SMTP; the SMTP path is tested against a real server in tests/integration/test_mail.py)."""
    async with live_server.client.app[sessionmaker_key]() as db:
        mail = await db.scalar(
            select(OutboxMessage).where(OutboxMessage.to_address == to, OutboxMessage.kind == "confirmation")
        )
    assert mail is not None and mail.ics is not None
    found = re.search(r"https?://\S+/join/\S+", mail.body)
    assert found, "no join link in the confirmation email"
    assert found.group(0) in mail.ics.replace("\r\n ", "")  # the .ics carries the same link
    return found.group(0)


async def citizen_books(page: Any, base_url: str) -> str:
    """On the public page: the first free slot, an alias and an email, the privacy notice; returns the join link."""
    await page.goto(f"{base_url}/book")
    await page.wait_for_url(f"{base_url}/book/emergenza")
    assert "ora di Roma" in (await page.text_content("main") or "")
    await page.locator("label.slot").first.click()
    await page.fill("#citizen_name", "Luca")
    await page.fill("#citizen_email", "luca@example.org")
    await page.check("#privacy_accepted")
    await page.click("form button[type=submit].primary")
    await page.locator("h1", has_text="Prenotazione confermata").wait_for()
    assert await page.locator("#manage-link").count() == 1
    return str(await page.get_attribute("#join-link", "href"))


async def test_a_citizen_books_online_and_reaches_the_waiting_room(
    live_server: LiveServer, new_context: NewContext
) -> None:
    await open_service(live_server)
    citizen = await (await new_context(viewport={"width": 390, "height": 844})).new_page()
    shown = await citizen_books(citizen, live_server.url)
    link = await link_in_the_email(live_server, "luca@example.org")
    assert link == shown and link.startswith(f"{live_server.url}/join/")

    await start_now(live_server)
    await citizen_knock(citizen, link)

    operator = await (await new_context()).new_page()
    await operator_login(operator, live_server.url, live_server.email, live_server.password)
    await operator.goto(f"{live_server.url}/console/agenda")
    entry = operator.locator(".entry", has_text="Luca")
    await entry.wait_for()
    join = entry.locator("a.button")
    assert await join.count() == 1  # the session has started: the join button is a live link
    await join.click()
    await operator.wait_for_url(f"{live_server.url}/console/consultations/*")
    await operator.locator("[data-lobby=list] li", has_text="Luca").wait_for()
