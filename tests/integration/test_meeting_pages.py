"""Recurring team meetings through the pages: create a series, skip, move and restore a meeting, see it on the
invitees' agendas."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.keys import sessionmaker_key
from server.models import MeetingSeries, Role, SeriesException
from tests.helpers.factories import make_staff
from tests.helpers.web import login


def next_thursday() -> date:
    today = date.today()
    return today + timedelta(days=(3 - today.weekday()) % 7 or 7)


async def test_a_supervisor_creates_a_fortnightly_series_and_changes_single_meetings(
    client: TestClient[Any, Any],
) -> None:
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR, name="Dott. Bianchi")
    operator = await make_staff(client.app, name="Dott.ssa Rossi")
    csrf = await login(client, supervisor)
    blank = await (await client.get("/console/meetings")).text()
    assert '<input id="title" name="title" type="text" value="" required maxlength="200">' in blank  # not escaped
    first = next_thursday()
    form = {
        "csrf_token": csrf,
        "title": "Supervisione di gruppo",
        "first_day": first.isoformat(),
        "at": "15:00",
        "minutes": "90",
        "repeat": "fortnightly",
        "invitees": [supervisor.id, operator.id],
    }
    response = await client.post("/console/meetings", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await client.get(response.headers["Location"])
    html = await page.text()
    assert "Supervisione di gruppo" in html and "Dott.ssa Rossi" in html
    originals = list(dict.fromkeys(re.findall(r'name="original" value="([^"]+)"', html)))  # each meeting once
    assert len(originals) >= 5  # twelve weeks ahead, every other week
    assert originals[0].endswith(("T14:00:00+00:00", "T13:00:00+00:00"))  # 15:00 in Rome, winter or summer
    async with client.app[sessionmaker_key]() as db:
        series = (await db.scalars(select(MeetingSeries))).one()
    assert series.rrule == "FREQ=WEEKLY;INTERVAL=2"

    skip = {"csrf_token": csrf, "original": originals[0], "action": "skip"}
    assert (await client.post(f"/console/meetings/{series.id}/change", data=skip)).status == 200
    move = {"csrf_token": csrf, "original": originals[1], "action": "move", "day": "", "at": "16:00"}
    assert (await client.post(f"/console/meetings/{series.id}/change", data=move)).status == 400
    move["day"] = (first + timedelta(days=15)).isoformat()
    assert (await client.post(f"/console/meetings/{series.id}/change", data=move)).status == 200
    async with client.app[sessionmaker_key]() as db:
        exceptions = list(await db.scalars(select(SeriesException).order_by(SeriesException.original_start)))
    assert [e.moved_to is None for e in exceptions] == [True, False]

    restore = {"csrf_token": csrf, "original": originals[0], "action": "restore"}
    assert (await client.post(f"/console/meetings/{series.id}/change", data=restore)).status == 200
    week = await client.get(f"/console/agenda?view=week&day={first.isoformat()}")
    assert "Supervisione di gruppo" in await week.text()


async def test_bad_input_shows_what_to_fix_and_writes_nothing(client: TestClient[Any, Any]) -> None:
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    csrf = await login(client, coordinator)
    form = {"csrf_token": csrf, "title": "", "first_day": "31/12", "at": "25:00", "minutes": "5", "repeat": "daily"}
    response = await client.post("/console/meetings", data=form)
    assert response.status == 400
    assert (await response.text()).count('aria-invalid="true"') >= 4
    async with client.app[sessionmaker_key]() as db:
        assert list(await db.scalars(select(MeetingSeries))) == []


async def test_operators_cannot_manage_meetings(client: TestClient[Any, Any]) -> None:
    await login(client, await make_staff(client.app))
    assert (await client.get("/console/meetings")).status == 403
