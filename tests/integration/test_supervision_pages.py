"""Supervision rooms through the pages: create a one-off room, the room page for who may enter (and nobody else),
the attendance register, the rooms on the agenda, and the room of a recurring team meeting."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server import supervision
from server.clock import ROME
from server.keys import sessionmaker_key
from server.models import MeetingSeries, Role, SeriesInvitee, Staff, SupervisionRoom, utcnow
from tests.helpers.factories import make_staff
from tests.helpers.web import login
from web.views.supervision import agenda_problem

Client = TestClient[Any, Any]


def tomorrow_at_ten() -> tuple[str, str]:
    day = (datetime.now(ROME) + timedelta(days=1)).date()
    return day.isoformat(), "10:00"


async def make_room(client: Client, creator: Staff, invitees: list[Staff], **fields: Any) -> SupervisionRoom:
    fields.setdefault("starts_at", utcnow() + timedelta(hours=1))
    return await supervision.create_room(
        client.app[sessionmaker_key], creator, title="Supervisione", invitees=[s.id for s in invitees], **fields
    )


async def test_a_supervisor_creates_a_room_and_an_invitee_enters_it(client: Client) -> None:
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR, name="Dott. Bianchi")
    operator = await make_staff(client.app, name="Dott.ssa Rossi")
    csrf = await login(client, supervisor)
    console = await (await client.get("/console")).text()
    assert 'href="/supervision"' in console  # in the header of a supervisor's pages
    listing = await client.get("/supervision")
    assert listing.status == 200
    html = await listing.text()
    assert "Supervisione di gruppo" in html and "Dott.ssa Rossi" in html and "mai nomi" in html
    day, at = tomorrow_at_ten()
    form = {
        "csrf_token": csrf,
        "title": "Supervisione clinica",
        "day": day,
        "at": at,
        "minutes": "90",
        "agenda": "Caso K7Q2; caso 2024-0153 del 12/03/2024",
        "invitees": [operator.id],
    }
    response = await client.post("/supervision", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    room_id = location.rsplit("/", 1)[1]
    async with client.app[sessionmaker_key]() as db:
        room = await db.get(SupervisionRoom, room_id)
    assert room is not None and room.starts_at is not None
    assert room.starts_at.astimezone(ROME).strftime("%H:%M") == "10:00"

    page = await client.get(location)
    assert page.status == 200
    html = await page.text()
    assert 'data-ws="/ws/group"' in html and f'data-room="{room_id}"' in html
    assert 'data-moderator="true"' in html and 'data-action="end"' in html and 'data-group="lobby"' in html
    assert (
        f"/supervision/{room_id}/register" in html
        and "Caso K7Q2" in html
        and "js/group.js" in html
        and 'data-check="preview"' in html
    )

    await login(client, operator)
    page = await client.get(location)
    assert page.status == 200
    html = await page.text()
    assert 'data-ws="/ws/group"' in html and 'data-moderator="false"' in html
    assert 'data-action="end"' not in html and 'data-action="lock"' not in html and 'data-group="lobby"' not in html
    assert "Entra nella riunione" in html and f"/supervision/{room_id}/register" not in html
    english = await (await client.get(location, headers={"Accept-Language": "en-GB,en;q=0.8"})).text()
    assert "Join the meeting" in english and 'lang="en"' in english


async def test_bad_input_shows_what_to_fix_and_keeps_it(client: Client) -> None:
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    operator = await make_staff(client.app)
    csrf = await login(client, coordinator)
    day, _ = tomorrow_at_ten()
    form = {
        "csrf_token": csrf,
        "title": "",
        "day": day,
        "at": "25:00",
        "minutes": "90",
        "agenda": "Richiamare mario.rossi@example.org",
        "invitees": [operator.id],
    }
    response = await client.post("/supervision", data=form)
    assert response.status == 400
    html = await response.text()
    assert html.count('aria-invalid="true"') == 3
    assert "Campo obbligatorio." in html and "Scrivi un orario come 09:30." in html
    assert "contiene un indirizzo email" in html
    assert "mario.rossi@example.org</textarea>" in html and 'value="25:00"' in html
    assert re.search(rf'value="{operator.id}" checked', html)

    form.update(title="Supervisione", at="10:00", agenda="Caso K7Q2: richiamare il 333 123 4567")
    english = await client.post("/supervision?lang=en", data=form)
    assert english.status == 400
    assert "looks like a phone number" in await english.text()
    async with client.app[sessionmaker_key]() as db:
        assert list(await db.scalars(select(SupervisionRoom))) == []


def test_an_agenda_holds_case_codes_not_contacts() -> None:
    assert agenda_problem("Caso K7Q2, caso 2024-0153; seduta del 12/03/2024") is None
    assert agenda_problem("scrivere a anna@example.org") == "agenda_email"
    assert agenda_problem("tel. +39 02 1234 5678") == "agenda_phone"
    assert agenda_problem("3331234567") == "agenda_phone"


async def test_who_may_see_the_rooms(client: Client) -> None:
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    invited = await make_staff(client.app, name="Invitata")
    stranger = await make_staff(client.app, name="Non invitata")
    room = await make_room(client, supervisor, [invited])
    await login(client, stranger)
    assert (await client.get("/supervision")).status == 403
    assert (await client.get(f"/supervision/{room.id}")).status == 403
    assert (await client.get("/supervision/nope")).status == 404
    assert (await client.get(f"/supervision/{room.id}/register")).status == 403
    client.session.cookie_jar.clear()
    anonymous = await client.get(f"/supervision/{room.id}", allow_redirects=False)
    assert anonymous.status == 303 and "/login" in anonymous.headers["Location"]


async def test_the_register_is_for_moderators(client: Client) -> None:
    maker = client.app[sessionmaker_key]
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR, name="Supervisore")
    member = await make_staff(client.app, name="Dott.ssa Verdi")
    room = await make_room(client, supervisor, [member])
    joined = datetime(2026, 3, 5, 14, 0, tzinfo=ROME)
    await supervision.joined(maker, room.id, member.id, joined)
    await supervision.left(maker, room.id, member.id, joined + timedelta(minutes=80))
    await login(client, member)
    assert (await client.get(f"/supervision/{room.id}/register")).status == 403
    await login(client, supervisor)
    page = await client.get(f"/supervision/{room.id}/register")
    assert page.status == 200
    html = await page.text()
    assert "Registro presenze" in html and "Dott.ssa Verdi" in html and "14:00" in html and "15:20" in html
    english = await (await client.get(f"/supervision/{room.id}/register?lang=en")).text()
    assert "Attendance register" in english
    # Once the meeting is over the room page is calm, and the register stays readable.
    await supervision.end_meeting(maker, room.id, f"staff:{supervisor.id}")
    over = await client.get(f"/supervision/{room.id}")
    assert over.status == 410 and "This meeting is over" in await over.text()  # the language chosen above
    assert (await client.get(f"/supervision/{room.id}/register")).status == 200


async def test_the_agenda_shows_the_room_with_a_join_link(client: Client) -> None:
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    operator = await make_staff(client.app)
    starts_at = datetime.now(ROME).replace(hour=11, minute=0, second=0, microsecond=0) + timedelta(days=1)
    room = await make_room(client, supervisor, [operator], starts_at=starts_at)
    await login(client, operator)
    page = await client.get(f"/console/agenda?day={starts_at.date().isoformat()}")
    html = await page.text()
    assert "Supervisione" in html and "supervisione di gruppo" in html
    assert f'href="/supervision/{room.id}"' in html and "11:00–12:30" in html
    english = await (await client.get(f"/console/agenda?day={starts_at.date().isoformat()}&lang=en")).text()
    assert "group supervision" in english and ">Join<" in english


@pytest.mark.parametrize("lang", ["it", "en"])
async def test_the_room_of_a_recurring_meeting(client: Client, lang: str) -> None:
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    operator = await make_staff(client.app)
    first = datetime.now(ROME).replace(hour=15, minute=0, second=0, microsecond=0) + timedelta(days=1)
    async with client.app[sessionmaker_key].begin() as db:
        series = MeetingSeries(title="Supervisione settimanale", rrule="FREQ=WEEKLY", starts_at=first,
                               created_by=supervisor.id)  # fmt: skip
        db.add(series)
        await db.flush()
        db.add(SeriesInvitee(series_id=series.id, staff_id=operator.id))
    csrf = await login(client, supervisor)
    meeting = await (await client.get(f"/console/meetings/{series.id}?lang={lang}")).text()
    assert ("Apri la stanza di supervisione" if lang == "it" else "Open the supervision room") in meeting
    open_room = f"/console/meetings/{series.id}/room"
    response = await client.post(open_room, data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303
    location = response.headers["Location"]
    again = await client.post(open_room, data={"csrf_token": csrf}, allow_redirects=False)
    assert again.headers["Location"] == location  # one room per series
    meeting = await (await client.get(f"/console/meetings/{series.id}")).text()
    assert f'href="{location}"' in meeting
    assert "Supervisione settimanale" in await (await client.get("/supervision")).text()

    await login(client, operator)
    assert (await client.get(location)).status == 200
    agenda = await (await client.get(f"/console/agenda?day={first.date().isoformat()}")).text()
    assert f'href="{location}"' in agenda
