"""The booking pages: the public page and its manage link, the switchboard, the agenda, follow-ups."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from scheduling import series
from server.keys import sessionmaker_key
from server.models import (
    Booking,
    BookingStatus,
    OutboxMessage,
    Role,
)
from tests.helpers.booking import JOIN, MANAGE, booking_form, public_form, slots_in, tomorrow
from tests.helpers.factories import count, make_staff, open_service
from tests.helpers.web import Client, coordinator_login, csrf_from, login
from web.api.ratelimit import Rate, limiter_key


async def test_a_citizen_books_on_the_public_page(client: Client) -> None:
    await open_service(client.app)
    operator = await make_staff(client.app, role=Role.OPERATOR)
    listing = await client.get("/book", allow_redirects=False)
    assert listing.status == 303 and listing.headers["Location"] == "/book/emergenza"  # one service: go there
    csrf, slots = await public_form(client)
    assert slots and "ora di Roma" in await (await client.get("/book/emergenza")).text()
    response = await client.post("/book/emergenza", data=booking_form(csrf, slots[0]))
    assert response.status == 201, await response.text()
    html = await response.text()
    assert JOIN.search(html) and "luca@example.org" in html
    manage = MANAGE.search(html)
    assert manage
    async with client.app[sessionmaker_key]() as db:
        booking = await db.scalar(select(Booking))
        assert booking is not None and booking.operator_id == operator.id and booking.privacy_accepted_at
        emails = list(await db.scalars(select(OutboxMessage).where(OutboxMessage.booking_id == booking.id)))
        assert any(m.kind == "confirmation" for m in emails)

    # The manage link: cancel.
    page = await client.get(manage.group(1))
    assert page.status == 200 and "?confirm=cancel" in await page.text()
    page = await client.get(manage.group(1) + "?confirm=cancel")  # one more step: nobody cancels by mistake
    assert "Vuoi davvero annullare" in await page.text()
    cancelled = await client.post(manage.group(1) + "/cancel", data={"csrf_token": csrf_from(await page.text())})
    assert cancelled.status == 200 and "Prenotazione annullata." in await cancelled.text()
    async with client.app[sessionmaker_key]() as db:
        stored = await db.get(Booking, booking.id)
        assert stored is not None and stored.status == BookingStatus.CANCELLED


async def test_the_citizen_reschedules_from_the_manage_link(client: Client) -> None:
    await open_service(client.app)
    await make_staff(client.app, role=Role.OPERATOR)
    csrf, slots = await public_form(client, day=tomorrow())
    done = await (await client.post("/book/emergenza", data=booking_form(csrf, slots[0]))).text()
    manage = MANAGE.search(done)
    assert manage
    page = await (await client.get(f"{manage.group(1)}?day={tomorrow()}")).text()
    later = [s for s in slots_in(page) if s != slots[0]][2]
    moved = await client.post(manage.group(1) + "/move", data={"csrf_token": csrf_from(page), "slot": later})
    assert moved.status == 200
    assert "Orario cambiato." in (html := await moved.text()) and JOIN.search(html)
    async with client.app[sessionmaker_key]() as db:
        booking = await db.scalar(select(Booking))
        assert booking is not None and booking.starts_at.isoformat() == later


async def test_a_bad_public_form_says_what_to_fix_and_writes_nothing(client: Client) -> None:
    await open_service(client.app)
    await make_staff(client.app, role=Role.OPERATOR)
    csrf, slots = await public_form(client)
    data = booking_form(csrf, slots[0], citizen_email="", citizen_name="")
    del data["privacy_accepted"]
    response = await client.post("/book/emergenza", data=data)
    assert response.status == 400
    html = await response.text()
    assert "Campo obbligatorio." in html and "email o un numero" in html and "serve il tuo consenso" in html
    assert f'value="{slots[0]}" checked' in html  # the chosen time is kept
    assert await count(client.app, Booking) == 0
    no_cookie = await client.post("/book/emergenza", data=booking_form("forged", slots[0]))
    assert no_cookie.status == 403 and await count(client.app, Booking) == 0


async def test_a_slot_just_taken_shows_the_nearest_free_slots(client: Client) -> None:
    await open_service(client.app)
    await make_staff(client.app, role=Role.OPERATOR)  # one operator: one booking fills a slot
    csrf, slots = await public_form(client, day=tomorrow())
    first = await client.post("/book/emergenza", data=booking_form(csrf, slots[1]))
    assert first.status == 201
    second = await client.post("/book/emergenza", data=booking_form(csrf, slots[1], citizen_name="Anna"))
    assert second.status == 409
    html = await second.text()
    assert "qualcuno ha appena prenotato" in html and "orari liberi più vicini" in html
    assert 'value="Anna"' in html and "Non è possibile" not in html
    nearest = slots_in(html.split('id="nearest"')[1].split("Oppure scegli un altro giorno")[0])
    assert slots[1] not in nearest and {slots[0], slots[2]} <= set(nearest)
    assert await count(client.app, Booking) == 1


async def test_a_service_not_bookable_online_is_not_shown_to_citizens(client: Client) -> None:
    await open_service(client.app, bookable_online=False)
    assert (await client.get("/book/emergenza")).status == 404
    assert "chiama" in (await (await client.get("/book")).text()).lower()


async def test_the_switchboard_books_for_a_caller_with_only_a_phone(client: Client) -> None:
    await open_service(client.app)
    operator = await make_staff(client.app, role=Role.OPERATOR, name="Dott. Neri")
    switchboard = await make_staff(client.app, role=Role.SWITCHBOARD)
    csrf = await login(client, switchboard)
    page = await (await client.get("/console/switchboard?service=emergenza")).text()
    slots = slots_in(page)
    assert slots and "Dott. Neri" in page
    data = {"csrf_token": csrf, "service": "emergenza", "slot": slots[0], "mode": "phone", "citizen_name": "Sig. R."}
    data["citizen_phone"] = "+39 02 1234567"
    missing_consent = await client.post("/console/switchboard", data=data)
    assert missing_consent.status == 400
    assert "consenso a voce" in await missing_consent.text() and await count(client.app, Booking) == 0
    response = await client.post("/console/switchboard", data={**data, "verbal_consent": "on", "operator": operator.id})
    assert response.status == 201, await response.text()
    html = await response.text()
    assert JOIN.search(html) and 'class="group"' in html and "Dott. Neri" in html
    async with client.app[sessionmaker_key]() as db:
        booking = await db.scalar(select(Booking))
        assert booking is not None
        assert booking.verbal_consent_by == f"staff:{switchboard.id}" and booking.verbal_consent_at is not None
        assert booking.citizen_email == "" and booking.citizen_phone == "+39 02 1234567"
    taken = await client.post("/console/switchboard", data={**data, "verbal_consent": "on", "operator": operator.id})
    assert taken.status == 409 and "appena stato preso" in await taken.text()


async def test_the_agenda_shows_bookings_and_the_join_button_opens_shortly_before(client: Client) -> None:
    await open_service(client.app)
    operator = await make_staff(client.app, role=Role.OPERATOR)
    csrf, slots = await public_form(client)
    _, later = await public_form(client, day=tomorrow())
    assert (await client.post("/book/emergenza", data=booking_form(csrf, slots[0]))).status == 201
    assert (
        await client.post("/book/emergenza", data=booking_form(csrf, later[-1], citizen_name="Tardi"))
    ).status == 201
    staff_csrf = await login(client, operator)
    async with client.app[sessionmaker_key]() as db:
        soon, late = list(await db.scalars(select(Booking).order_by(Booking.starts_at)))
    week = await (await client.get(f"/console/agenda?view=week&day={tomorrow()}")).text()
    assert "Tardi" in week and "Si apre alle" in week and "ora di Roma" in week
    # The clock, controlled: the first session started a minute ago, so its join button is a live link.
    async with client.app[sessionmaker_key].begin() as db:
        started = await db.get(Booking, soon.id)
        assert started is not None
        started.starts_at = datetime.now(UTC) - timedelta(minutes=1)
        started.ends_at = started.starts_at + timedelta(minutes=45)
        started.blocked_until = started.ends_at + timedelta(minutes=15)
    today = await (await client.get("/console/agenda")).text()
    assert f'href="/console/consultations/{soon.consultation_id}"' in today
    confirm = await (await client.get(f"/console/agenda/{late.id}/cancel")).text()
    assert "Annullare questo colloquio?" in confirm and "Tardi" in confirm
    cancelled = await client.post(f"/console/agenda/{late.id}/cancel", data={"csrf_token": staff_csrf})
    assert cancelled.status == 200 and "Colloquio annullato" in await cancelled.text()
    async with client.app[sessionmaker_key]() as db:
        stored = await db.get(Booking, late.id)
        assert stored is not None and stored.status == BookingStatus.CANCELLED
        assert await db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "cancellation")) is not None


async def test_the_operator_moves_a_session_and_books_a_follow_up(client: Client) -> None:
    await open_service(client.app)
    operator = await make_staff(client.app, role=Role.OPERATOR)
    csrf, slots = await public_form(client, day=tomorrow())
    assert (await client.post("/book/emergenza", data=booking_form(csrf, slots[3]))).status == 201
    staff_csrf = await login(client, operator)
    async with client.app[sessionmaker_key]() as db:
        booking = await db.scalar(select(Booking))
    assert booking is not None
    page = await (await client.get(f"/console/agenda/{booking.id}/move?day={tomorrow()}")).text()
    target = slots_in(page)[5]
    moved = await client.post(f"/console/agenda/{booking.id}/move", data={"csrf_token": staff_csrf, "slot": target})
    assert moved.status == 200 and "Colloquio spostato" in await moved.text()
    bad = await client.post(f"/console/agenda/{booking.id}/move", data={"csrf_token": staff_csrf, "slot": "domani"})
    assert bad.status == 400

    follow = await client.get(f"/console/consultations/{booking.consultation_id}/follow-up?service=emergenza")
    assert follow.status == 200
    html = await follow.text()
    assert 'value="Luca"' in html and 'value="luca@example.org"' in html
    data = {
        "csrf_token": staff_csrf, "service": "emergenza", "slot": slots_in(html)[-1], "mode": "video",
        "citizen_name": "Luca", "citizen_email": "luca@example.org", "verbal_consent": "on",
    }  # fmt: skip
    booked = await client.post(f"/console/consultations/{booking.consultation_id}/follow-up", data=data)
    assert booked.status == 201, await booked.text()
    async with client.app[sessionmaker_key]() as db:
        rows = list(await db.scalars(select(Booking).order_by(Booking.created_at)))
        assert len(rows) == 2 and rows[1].operator_id == operator.id and rows[1].channel.value == "follow_up"


async def test_operators_cannot_cancel_each_others_sessions(client: Client) -> None:
    await open_service(client.app)
    await make_staff(client.app, role=Role.OPERATOR)
    csrf, slots = await public_form(client)
    assert (await client.post("/book/emergenza", data=booking_form(csrf, slots[0]))).status == 201
    other = await make_staff(client.app, role=Role.SUPERVISOR)
    await login(client, other)
    async with client.app[sessionmaker_key]() as db:
        booking = await db.scalar(select(Booking))
    assert booking is not None
    assert (await client.get(f"/console/agenda/{booking.id}/move")).status == 403


async def test_public_booking_is_rate_limited_and_speaks_english(client: Client) -> None:
    await open_service(client.app)
    await make_staff(client.app, role=Role.OPERATOR)
    client.app[limiter_key].limits["booking"] = Rate.of(1)
    csrf, slots = await public_form(client)
    english = await (await client.get("/book/emergenza?lang=en")).text()
    assert "Times in Rome time (Europe/Rome)." in english and "Book: Emergenza psicologica" in english
    data = booking_form(csrf, slots[0], citizen_name="")
    assert (await client.post("/book/emergenza", data=data)).status == 400
    limited = await client.post("/book/emergenza", data=data)
    assert limited.status == 429 and "Retry-After" in limited.headers
    assert await count(client.app, Booking) == 0


async def test_an_unknown_manage_link_is_a_calm_404(client: Client) -> None:
    response = await client.get("/booking/not-a-real-token")
    assert response.status == 404
    assert 'class="card narrow"' in await response.text()  # the error page, not a stack trace


async def test_the_agenda_shows_team_meetings_and_the_coordinator_sees_an_operators_agenda(client: Client) -> None:
    await open_service(client.app)
    operator = await make_staff(client.app, role=Role.OPERATOR, name="Dott. Gialli")
    csrf, slots = await public_form(client, day=tomorrow())
    assert (await client.post("/book/emergenza", data=booking_form(csrf, slots[12]))).status == 201  # at noon
    coordinator, _ = await coordinator_login(client)
    first = datetime.combine(date.fromisoformat(tomorrow()), time(8, 0), ZoneInfo("Europe/Rome"))
    await series.create_series(
        client.app[sessionmaker_key], title="Supervisione di gruppo", rrule="FREQ=WEEKLY", starts_at=first,
        minutes=90, created_by=coordinator.id, invitees=[operator.id],
    )  # fmt: skip
    html = await (await client.get(f"/console/agenda?day={tomorrow()}&operator={operator.id}")).text()
    assert "Luca" in html and "Supervisione di gruppo" in html
    assert html.index("Supervisione di gruppo") < html.index("Luca")  # in time order: 08:00 before the session
    assert "/console/consultations/" not in html  # only the operator joins their own sessions
    own = await (await client.get(f"/console/agenda?day={tomorrow()}")).text()
    assert "Luca" not in own and "Nessun colloquio." in own
