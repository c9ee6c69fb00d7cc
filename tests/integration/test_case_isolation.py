"""Case isolation, on SQLite and PostgreSQL: knowing a citizen's phone or email never opens their case (not
through a consultation's page, not by the case's URL, not through the background linker, not by a public
booking). A match becomes a suggestion ("possibly the same person") shown only to those who already have the
existing case, naming the new case by its code; merging is an explicit, audited act by someone with access to
both cases; a suggestion can be dismissed."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.cases.linking import link_pending
from server.keys import sessionmaker_key
from server.models import AuditEvent, Booking, Case, CaseWorker, Consultation, Role, Staff
from tests.helpers.booking import booking_body, booking_form, free, public_form, slots_in, tomorrow
from tests.helpers.factories import make_consultation, make_service, make_staff, open_service
from tests.helpers.web import login
from web.api.ratelimit import limiter_key

Client = TestClient[Any, Any]
PHONE = "+39 333 7654321"
EMAIL = "maria.bianchi@example.org"
NOTE = "Teme il marito; nessun pensiero autolesivo."
SUGGESTION = re.compile(r'name="suggestion" value="([^"]+)"')


async def a_case(client: Client, operator: Staff, **contact: Any) -> tuple[str, str]:
    """``operator`` opens the case of a new consultation of theirs through the page: (case id, consultation id)."""
    made = await make_consultation(client.app, operator, **contact)
    await login(client, operator)
    response = await client.get(f"/console/consultations/{made.consultation.id}/case", allow_redirects=False)
    assert response.status == 303, response.status
    match = re.match(r"^/cases/([0-9a-f]+)\?", response.headers["Location"])
    assert match
    return match.group(1), made.consultation.id


async def maria(client: Client) -> tuple[Staff, str, str]:
    """Operator A's citizen, with a note on her case: (A, csrf, case id)."""
    a = await make_staff(client.app, name="Dott.ssa Rossi")
    case_id, _ = await a_case(client, a, citizen_name="Maria Bianchi", citizen_email=EMAIL, citizen_phone=PHONE)
    csrf = await login(client, a)
    note = {"csrf_token": csrf, "note": NOTE}
    assert (await client.post(f"/cases/{case_id}/notes", data=note, allow_redirects=False)).status == 303
    return a, csrf, case_id


async def workers(client: Client, case_id: str) -> set[str]:
    async with client.app[sessionmaker_key]() as db:
        return set(await db.scalars(select(CaseWorker.staff_id).where(CaseWorker.case_id == case_id)))


async def code_of(client: Client, case_id: str) -> str:
    async with client.app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
    assert case is not None
    return case.code


async def assert_locked_out(client: Client, intruder: Staff, case_id: str) -> None:
    await login(client, intruder)
    page = await client.get(f"/cases/{case_id}")
    assert page.status == 404 and NOTE not in await page.text()
    assert intruder.id not in await workers(client, case_id)


async def test_knowing_a_phone_number_never_opens_a_case(client: Client) -> None:
    _, _, maria_case = await maria(client)
    b = await make_staff(client.app, name="Dott. Gialli")
    # through the consultation's page
    by_page, _ = await a_case(client, b, citizen_name="Chiunque", citizen_phone=PHONE)
    assert by_page != maria_case
    assert NOTE not in await (await client.get(f"/cases/{by_page}")).text()
    await assert_locked_out(client, b, maria_case)  # and by the case's URL
    # through the background linker
    later = (await make_consultation(client.app, b, citizen_name="Chiunque", citizen_phone=PHONE)).consultation
    assert await link_pending(client.app[sessionmaker_key]) >= 1
    async with client.app[sessionmaker_key]() as db:
        linked = await db.get(Consultation, later.id)
    assert linked is not None and linked.case_id not in (None, maria_case)
    await assert_locked_out(client, b, maria_case)


async def test_knowing_an_email_never_opens_a_case(client: Client) -> None:
    _, _, maria_case = await maria(client)
    b = await make_staff(client.app, name="Dott. Gialli")
    by_page, _ = await a_case(client, b, citizen_name="Chiunque", citizen_email=EMAIL)
    assert by_page != maria_case
    await assert_locked_out(client, b, maria_case)
    later = (await make_consultation(client.app, b, citizen_name="Chiunque", citizen_email=EMAIL)).consultation
    await link_pending(client.app[sessionmaker_key])
    async with client.app[sessionmaker_key]() as db:
        linked = await db.get(Consultation, later.id)
    assert linked is not None and linked.case_id not in (None, maria_case)
    await assert_locked_out(client, b, maria_case)


async def test_public_booking_with_a_known_phone_never_merges(client: Client) -> None:
    a, _, maria_case = await maria(client)
    b = await make_staff(client.app, name="Dott. Gialli")  # one of the two operators the booking may go to
    client.app[limiter_key].limits = {}
    client.session.cookie_jar.clear()  # an anonymous citizen, not a staff member
    service = await make_service(client.app)
    slot = (await free(client.app, service))[0]
    booked = await client.post("/api/v1/bookings", json=booking_body(slot, citizen_phone=PHONE, citizen_email=EMAIL))
    assert booked.status == 201
    await link_pending(client.app[sessionmaker_key])
    async with client.app[sessionmaker_key]() as db:
        booking = await db.scalar(select(Booking))
        assert booking is not None
        consultation = await db.get(Consultation, booking.consultation_id)
    assert booking.case_id is not None and booking.case_id != maria_case
    assert consultation is not None and consultation.case_id == booking.case_id
    assert await workers(client, maria_case) == {a.id}
    if booking.operator_id == b.id:
        await assert_locked_out(client, b, maria_case)


async def test_the_suggestion_is_shown_to_the_existing_cases_people_only(client: Client) -> None:
    a, _, maria_case = await maria(client)
    b = await make_staff(client.app, name="Dott. Gialli")
    new_case, _ = await a_case(client, b, citizen_name="Nome Nuovo", citizen_phone=PHONE)
    new_code, maria_code = await code_of(client, new_case), await code_of(client, maria_case)
    # B, on their own new case, learns nothing of Maria's
    b_page = await (await client.get(f"/cases/{new_case}")).text()
    assert maria_code not in b_page and "suggestion" not in b_page
    # A sees the new case's code, not its name, and may not merge it (no access to it) but may dismiss it
    await login(client, a)
    a_page = await (await client.get(f"/cases/{maria_case}")).text()
    assert new_code in a_page and "Nome Nuovo" not in a_page
    assert f'action="/cases/{maria_case}/suggestions/dismiss"' in a_page
    assert f'action="/cases/{maria_case}/suggestions/merge"' not in a_page
    # the switchboard does not open the case at all
    switchboard = await make_staff(client.app, role=Role.SWITCHBOARD)
    await login(client, switchboard)
    refused = await client.get(f"/cases/{maria_case}")
    assert refused.status == 403 and new_code not in await refused.text()
    # a supervisor (every case, by the service's policy) sees it and may merge
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    await login(client, supervisor)
    s_page = await (await client.get(f"/cases/{maria_case}")).text()
    assert new_code in s_page and f'action="/cases/{maria_case}/suggestions/merge"' in s_page


async def test_merging_is_explicit_audited_and_moves_the_contacts(client: Client) -> None:
    a, _, maria_case = await maria(client)
    b = await make_staff(client.app, name="Dott. Gialli")
    new_case, b_consultation = await a_case(client, b, citizen_name="Maria B.", citizen_phone=PHONE)
    b_note = {"csrf_token": await login(client, b), "note": "Nota del secondo colloquio."}
    assert (await client.post(f"/cases/{new_case}/notes", data=b_note, allow_redirects=False)).status == 303
    # A alone may not merge a case they have no access to: refused, nothing moves
    csrf = await login(client, a)
    suggestion = SUGGESTION.search(await (await client.get(f"/cases/{maria_case}")).text())
    assert suggestion
    form = {"csrf_token": csrf, "suggestion": suggestion.group(1)}
    refused = await client.post(f"/cases/{maria_case}/suggestions/merge", data=form, allow_redirects=False)
    assert refused.status in (403, 404)
    assert await workers(client, maria_case) == {a.id}
    # the supervisor merges
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    csrf = await login(client, supervisor)
    form["csrf_token"] = csrf
    merged = await client.post(f"/cases/{maria_case}/suggestions/merge", data=form, allow_redirects=False)
    assert merged.status == 303
    async with client.app[sessionmaker_key]() as db:
        moved = await db.get(Consultation, b_consultation)
        gone = await db.get(Case, new_case)
        rows = list(await db.scalars(select(AuditEvent).where(AuditEvent.action == "merge")))
    assert moved is not None and moved.case_id == maria_case and gone is None
    assert await workers(client, maria_case) == {a.id, b.id}  # B works on it now, by this act only
    assert [(r.actor, r.subject, r.object_id) for r in rows] == [(f"staff:{supervisor.id}", maria_case, new_case)]
    page = await (await client.get(f"/cases/{maria_case}")).text()
    assert not SUGGESTION.search(page)
    await login(client, b)
    merged_page = await (await client.get(f"/cases/{maria_case}")).text()
    assert NOTE in merged_page and "Nota del secondo colloquio." in merged_page  # sealed again for its new case


async def test_dismissing_a_suggestion_hides_it_and_is_audited(client: Client) -> None:
    a, csrf, maria_case = await maria(client)
    b = await make_staff(client.app, name="Dott. Gialli")
    new_case, _ = await a_case(client, b, citizen_name="Altra persona", citizen_email=EMAIL)
    csrf = await login(client, a)
    suggestion = SUGGESTION.search(await (await client.get(f"/cases/{maria_case}")).text())
    assert suggestion
    # B may not dismiss what they cannot see
    b_csrf = await login(client, b)
    form = {"csrf_token": b_csrf, "suggestion": suggestion.group(1)}
    assert (await client.post(f"/cases/{maria_case}/suggestions/dismiss", data=form)).status == 404
    csrf = await login(client, a)
    form["csrf_token"] = csrf
    dismissed = await client.post(f"/cases/{maria_case}/suggestions/dismiss", data=form, allow_redirects=False)
    assert dismissed.status == 303
    page = await (await client.get(f"/cases/{maria_case}")).text()
    assert not SUGGESTION.search(page) and await code_of(client, new_case) not in page
    async with client.app[sessionmaker_key]() as db:
        rows = list(await db.scalars(select(AuditEvent).where(AuditEvent.action == "dismiss_suggestion")))
    assert [(r.actor, r.subject) for r in rows] == [(f"staff:{a.id}", maria_case)]
    assert await workers(client, maria_case) == {a.id}


async def test_a_follow_up_booked_from_a_consultation_stays_in_its_case(client: Client) -> None:
    """The one way a new contact joins an existing case on its own: it was booked from that case's consultation
    (it carries the case's id), by the operator who works on it."""
    await open_service(client.app)
    operator = await make_staff(client.app, role=Role.OPERATOR)
    csrf, slots = await public_form(client, day=tomorrow())
    assert (await client.post("/book/emergenza", data=booking_form(csrf, slots[0]))).status == 201
    async with client.app[sessionmaker_key]() as db:
        first = await db.scalar(select(Booking))
    assert first is not None and first.consultation_id is not None
    case_id, _ = await a_case_of(client, operator, first.consultation_id)
    staff_csrf = await login(client, operator)
    html = await (
        await client.get(f"/console/consultations/{first.consultation_id}/follow-up?service=emergenza")
    ).text()
    data = {
        "csrf_token": staff_csrf, "service": "emergenza", "slot": slots_in(html)[-1], "mode": "video",
        "citizen_name": "Luca", "citizen_email": "luca@example.org", "verbal_consent": "on",
    }  # fmt: skip
    booked = await client.post(f"/console/consultations/{first.consultation_id}/follow-up", data=data)
    assert booked.status == 201
    await link_pending(client.app[sessionmaker_key])
    async with client.app[sessionmaker_key]() as db:
        follow_up = await db.scalar(select(Booking).where(Booking.id != first.id))
        assert follow_up is not None
        consultation = await db.get(Consultation, follow_up.consultation_id)
        cases_made = list(await db.scalars(select(Case.id)))
    assert follow_up.case_id == case_id and consultation is not None and consultation.case_id == case_id
    assert cases_made == [case_id]
    assert await workers(client, case_id) == {operator.id}


async def a_case_of(client: Client, operator: Staff, consultation_id: str) -> tuple[str, str]:
    await login(client, operator)
    response = await client.get(f"/console/consultations/{consultation_id}/case", allow_redirects=False)
    match = re.match(r"^/cases/([0-9a-f]+)\?", response.headers["Location"])
    assert match
    return match.group(1), consultation_id
