"""The scheduling settings pages: role checks, service rules, opening hours, closures, availability, the outbox.

The booking pages are tested in ``test_booking_pages.py``."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.keys import sessionmaker_key
from server.models import (
    AuditEvent,
    Availability,
    AvailabilityOverride,
    Closure,
    OpeningHours,
    OutboxMessage,
    OutboxStatus,
    Role,
    Service,
    Staff,
)
from tests.helpers.factories import count, make_staff, open_service
from tests.helpers.web import coordinator_login, login

Client = TestClient[Any, Any]


# --- roles ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/console/services", "/console/outbox"])
async def test_coordinator_pages_refuse_other_roles(client: Client, path: str) -> None:
    operator = await make_staff(client.app, role=Role.OPERATOR)
    await login(client, operator)
    response = await client.get(path)
    assert response.status == 403
    assert "Non è possibile aprire questa pagina" in await response.text()


async def test_pages_need_a_login(client: Client) -> None:
    for path in ("/console/services", "/console/agenda", "/console/switchboard", "/console/availability"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/login")


async def test_switchboard_staff_cannot_open_the_agenda_or_availability(client: Client) -> None:
    switchboard = await make_staff(client.app, role=Role.SWITCHBOARD)
    await login(client, switchboard)
    assert (await client.get("/console/agenda")).status == 403
    assert (await client.get(f"/console/availability/{switchboard.id}")).status == 403
    assert (await client.get("/console/switchboard")).status == 200


# --- services: rules, hours, closures -------------------------------------------------------------------------


async def test_the_coordinator_creates_a_service_with_the_default_hours(client: Client) -> None:
    _, csrf = await coordinator_login(client)
    data = {"csrf_token": csrf, "name": "Vittime di reato", "slug": "vittime"}
    response = await client.post("/console/services", data=data, allow_redirects=False)
    assert response.status == 303
    page = await (await client.get(response.headers["Location"])).text()
    assert "Vittime di reato" in page
    assert page.count('value="09:30-18:00"') == 6  # Monday to Saturday
    assert 'id="day6" name="day6" type="text" inputmode="text" autocomplete="off" value=""' in page

    again = await client.post("/console/services", data=data)
    assert again.status == 400
    assert "già usato" in await again.text()
    assert await count(client.app, Service) == 1


async def test_bad_rules_show_what_to_fix_and_write_nothing(client: Client) -> None:
    service = await open_service(client.app)
    _, csrf = await coordinator_login(client)
    data = {
        "csrf_token": csrf,
        "session_minutes": "tre quarti",
        "buffer_minutes": "15",
        "min_notice_minutes": "120",
        "horizon_days": "9999",
        "disciplines": "psicologia",
        "holiday_subdivision": "XX",  # not an Italian province: the holidays calendar would not know it
    }
    response = await client.post(f"/console/services/{service.id}/rules", data=data)
    assert response.status == 400
    html = await response.text()
    assert html.count('aria-invalid="true"') == 3
    assert 'value="tre quarti"' in html and 'value="9999"' in html
    assert "Scrivi un numero intero." in html and "Scegli almeno un" in html
    async with client.app[sessionmaker_key]() as db:
        stored = await db.get(Service, service.id)
        assert stored is not None and stored.session_minutes == 45 and stored.horizon_days == 30


async def test_the_coordinator_saves_rules_hours_and_closures(client: Client) -> None:
    service = await open_service(client.app)
    _, csrf = await coordinator_login(client)
    rules = {
        "csrf_token": csrf, "session_minutes": "50", "buffer_minutes": "10", "min_notice_minutes": "60",
        "horizon_days": "21", "modes": "video", "disciplines": "psicologia, criminologia",
        "holiday_subdivision": "mi",
    }  # fmt: skip
    response = await client.post(f"/console/services/{service.id}/rules", data=rules)
    assert response.status == 200 and "Modifiche salvate." in await response.text()
    hours = {"csrf_token": csrf, "day0": "09:30-13:00, 14:00-18:00", "day2": "10:00-12:00"}
    assert (await client.post(f"/console/services/{service.id}/hours", data=hours)).status == 200
    closure = {"csrf_token": csrf, "closure_day": "2026-08-14", "closure_reason": "Ponte"}
    page = await (await client.post(f"/console/services/{service.id}/closures", data=closure)).text()
    assert "Ponte" in page and "agosto" in page
    async with client.app[sessionmaker_key]() as db:
        stored = await db.get(Service, service.id)
        assert stored is not None
        assert (stored.session_minutes, stored.buffer_minutes, stored.horizon_days) == (50, 10, 21)
        assert (stored.modes, stored.disciplines, stored.holiday_subdivision) == (
            "video",
            "psicologia,criminologia",
            "MI",
        )
        assert stored.bookable_online is False  # the box was not ticked
        rows = list(await db.scalars(select(OpeningHours).order_by(OpeningHours.weekday, OpeningHours.opens)))
        assert [(r.weekday, r.opens, r.closes) for r in rows] == [
            (0, time(9, 30), time(13, 0)), (0, time(14, 0), time(18, 0)), (2, time(10, 0), time(12, 0)),
        ]  # fmt: skip
        closure_row = await db.scalar(select(Closure))
        assert closure_row is not None and closure_row.day == date(2026, 8, 14)
    removed = await client.post(
        f"/console/services/{service.id}/closures/{closure_row.id}/delete", data={"csrf_token": csrf}
    )
    assert removed.status == 200 and await count(client.app, Closure) == 0


async def test_bad_hours_keep_what_was_typed_and_change_nothing(client: Client) -> None:
    service = await open_service(client.app)
    _, csrf = await coordinator_login(client)
    data = {"csrf_token": csrf, "day0": "18:00-09:30", "day1": "9-13", "day2": "09:00-12:00, 11:00-13:00"}
    response = await client.post(f"/console/services/{service.id}/hours", data=data)
    assert response.status == 400
    html = await response.text()
    assert html.count('aria-invalid="true"') == 3
    assert 'value="9-13"' in html and "si sovrappongono" in html
    assert await count(client.app, OpeningHours) == 7
    bad_day = await client.post(
        f"/console/services/{service.id}/closures", data={"csrf_token": csrf, "closure_day": "31/02"}
    )
    assert bad_day.status == 400 and await count(client.app, Closure) == 0


async def test_forms_without_the_csrf_token_are_refused(client: Client) -> None:
    service = await open_service(client.app)
    await coordinator_login(client)
    response = await client.post(f"/console/services/{service.id}/hours", data={"day0": "09:00-10:00"})
    assert response.status == 403
    assert await count(client.app, OpeningHours) == 7


# --- availability ---------------------------------------------------------------------------------------------


async def test_an_operator_edits_only_their_own_availability(client: Client) -> None:
    operator = await make_staff(client.app, role=Role.OPERATOR)
    other = await make_staff(client.app, role=Role.OPERATOR, name="Dott. Verdi")
    csrf = await login(client, operator)
    listing = await client.get("/console/availability", allow_redirects=False)
    assert listing.headers["Location"] == f"/console/availability/{operator.id}"
    assert (await client.get(f"/console/availability/{other.id}")).status == 403
    refused = await client.post(
        f"/console/availability/{other.id}/weekly", data={"csrf_token": csrf, "day0": "09:00-10:00"}
    )
    assert refused.status == 403

    data = {"csrf_token": csrf, "day0": "09:30-13:00", "day3": "14:00-18:00", "daily_cap": "4"}
    saved = await client.post(f"/console/availability/{operator.id}/weekly", data=data)
    assert saved.status == 200 and 'value="09:30-13:00"' in await saved.text()
    absence = {"csrf_token": csrf, "override_day": "2026-12-24", "override_kind": "absence"}
    assert (await client.post(f"/console/availability/{operator.id}/overrides", data=absence)).status == 200
    extra = {"csrf_token": csrf, "override_day": "2026-12-28", "override_kind": "extra", "override_from": "08:00"}
    bad = await client.post(f"/console/availability/{operator.id}/overrides", data=extra)
    assert bad.status == 400 and 'value="08:00"' in await bad.text()
    async with client.app[sessionmaker_key]() as db:
        rows = list(await db.scalars(select(Availability).order_by(Availability.weekday)))
        assert [(r.weekday, r.starts, r.ends) for r in rows] == [
            (0, time(9, 30), time(13, 0)),
            (3, time(14, 0), time(18, 0)),
        ]
        overrides = list(await db.scalars(select(AvailabilityOverride)))
        assert len(overrides) == 1 and overrides[0].starts is None
        me = await db.get(Staff, operator.id)
        assert me is not None and me.daily_cap == 4


async def test_the_coordinator_edits_an_operators_availability(client: Client) -> None:
    operator = await make_staff(client.app, role=Role.OPERATOR, name="Dott. Bianchi")
    _, csrf = await coordinator_login(client)
    listing = await (await client.get("/console/availability")).text()
    assert "Dott. Bianchi" in listing
    data = {"csrf_token": csrf, "day1": "10:00-12:00", "daily_cap": "zero"}
    bad = await client.post(f"/console/availability/{operator.id}/weekly", data=data)
    assert bad.status == 400 and await count(client.app, Availability) == 0
    data["daily_cap"] = ""
    assert (await client.post(f"/console/availability/{operator.id}/weekly", data=data)).status == 200
    assert await count(client.app, Availability) == 1


# --- the outbox -----------------------------------------------------------------------------------------------


async def test_the_outbox_lists_messages_and_reading_one_is_audited(client: Client) -> None:
    async with client.app[sessionmaker_key].begin() as db:
        message = OutboxMessage(
            to_address="maria@example.org", subject="Il tuo colloquio", body="Ecco il link segreto",
            kind="confirmation", status=OutboxStatus.FAILED, attempts=5, last_error="SMTPConnectError",
        )  # fmt: skip
        db.add(message)
    coordinator, _ = await coordinator_login(client)
    listing = await (await client.get("/console/outbox")).text()
    for text in ("maria@example.org", "Il tuo colloquio", "confirmation", "non riuscita", "SMTPConnectError"):
        assert text in listing
    assert "Ecco il link segreto" not in listing
    opened = await (await client.get(f"/console/outbox/{message.id}")).text()
    assert "Ecco il link segreto" in opened
    async with client.app[sessionmaker_key]() as db:
        event = await db.scalar(
            select(AuditEvent).where(AuditEvent.object_type == "outbox", AuditEvent.action == "read")
        )
        assert event is not None and event.actor == f"staff:{coordinator.id}" and event.object_id == message.id
    assert (await client.get("/console/outbox/nope")).status == 404
