"""Booking end to end in Chromium: a citizen books on the public page, opens the join link at the session time and
reaches the waiting room; the operator sees the booking in the agenda and the citizen waiting."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.keys import sessionmaker_key
from server.models import Booking, Consultation, utcnow
from tests.helpers.browser import LiveServer, NewContext
from tests.helpers.factories import open_service
from tests.helpers.mail import SmtpSink, smtp_server
from tests.helpers.pages import citizen_knock, operator_login
from tests.helpers.web import MakeClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def smtp() -> Iterator[tuple[int, SmtpSink]]:
    """A real SMTP server on 127.0.0.1: the citizen's email as it leaves the server (the outbox holds its link
    only sealed, and only until it is sent)."""
    with smtp_server() as found:
        yield found


@pytest.fixture
def make_client(make_client: MakeClient, smtp: tuple[int, SmtpSink]) -> MakeClient:
    """The live server of these tests sends its email to :func:`smtp`."""

    async def make(**overrides: Any) -> Any:
        return await make_client(smtp_host="127.0.0.1", smtp_port=smtp[0], **overrides)

    return make


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


async def link_in_the_email(sink: SmtpSink, to: str) -> str:
    """The join link as the citizen receives it: from the confirmation email delivered through SMTP (the
    background sender polls every few seconds)."""
    for _ in range(400):
        mail = next((m for m in sink.messages if m["To"] == to and "confermato" in str(m["Subject"])), None)
        if mail is not None:
            break
        await asyncio.sleep(0.05)
    assert mail is not None, "no confirmation email arrived"
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://\S+/join/\S+", body.get_content())
    assert found, "no join link in the confirmation email"
    [ics] = [part.get_content() for part in mail.iter_attachments()]
    assert found.group(0) in ics.replace("\r\n ", "")  # the .ics carries the same link
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
    live_server: LiveServer, new_context: NewContext, smtp: tuple[int, SmtpSink]
) -> None:
    await open_service(live_server.client.app)
    citizen = await (await new_context(viewport={"width": 390, "height": 844})).new_page()
    shown = await citizen_books(citizen, live_server.url)
    link = await link_in_the_email(smtp[1], "luca@example.org")
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
