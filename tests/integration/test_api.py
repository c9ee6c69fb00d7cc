"""The JSON API under /api/v1 through a real in-process server, on SQLite and PostgreSQL: slots, a 20-way race
for one slot, cancel and rebook, Idempotency-Key, rate limits, bad input, staff bookings, the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from scheduling.slots import Slot, local_day, to_utc
from server.keys import sessionmaker_key
from server.models import Booking, BookingChannel, BookingStatus, IdempotencyRecord, Role, utcnow
from tests.helpers.booking import booking_body, free, full_day
from tests.helpers.factories import count, make_operators, make_service, make_staff
from tests.helpers.web import MakeClient, login
from web.api.ratelimit import Rate, limiter_key

Client = TestClient[Any, Any]
ROME = ZoneInfo("Europe/Rome")


@pytest.fixture
async def api(make_client: MakeClient) -> Client:
    """A client whose server does not rate-limit (the limit has its own test)."""
    client = await make_client()
    client.app[limiter_key].limits = {}
    return client


async def bookings(client: Client) -> int:
    return await count(client.app, Booking)


async def test_services_and_slots_never_name_operators(api: Client) -> None:
    service = await make_service(api.app)
    await make_service(api.app, slug="interno", bookable_online=False)
    await make_operators(api.app, 2)
    listed = await (await api.get("/api/v1/services")).json()
    assert [s["slug"] for s in listed["services"]] == ["ascolto"]
    expected = await free(api.app, service)
    first = local_day(expected[0].starts_at)
    response = await api.get(f"/api/v1/services/ascolto/slots?from={first.isoformat()}&days=1")
    assert response.status == 200
    answer = await response.json()
    assert answer["timezone"] == "Europe/Rome"
    slot = answer["slots"][0]
    assert set(slot) == {"starts_at", "ends_at", "local", "operators"} and slot["operators"] == 2
    assert slot["starts_at"].endswith("Z") and slot["starts_at"] == expected[0].starts_at.isoformat().replace(
        "+00:00", "Z"
    )
    local = expected[0].starts_at.astimezone(ROME)
    assert slot["local"] == local.isoformat()
    assert (await api.get("/api/v1/services/interno/slots")).status == 404
    assert (await api.get("/api/v1/services/nessuno/slots")).status == 404
    bad = await api.get("/api/v1/services/ascolto/slots?days=1000")
    assert bad.status == 400 and (await bad.json())["fields"] == {"days": "expected 1..62"}


async def test_twenty_simultaneous_bookings_of_one_slot(api: Client) -> None:
    service = await make_service(api.app)
    await make_operators(api.app, 1)
    slot = (await free(api.app, service))[0]
    responses = await asyncio.gather(
        *(api.post("/api/v1/bookings", json=booking_body(slot, citizen_name=f"P{n}")) for n in range(20))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 19
    for response in responses:
        answer = await response.json()
        if response.status == 409:
            assert answer["error"] == "slot_taken" and answer["message"]
            assert answer["alternatives"] and slot.starts_at.isoformat() not in {
                a["starts_at"] for a in answer["alternatives"]
            }
        else:
            assert answer["join_link"].startswith("http://127.0.0.1:") and "/join/" in answer["join_link"]
            assert "/booking/" in answer["manage_link"]
            assert "operator_id" not in answer["booking"]
    assert await bookings(api) == 1


async def test_cancel_then_rebook_the_same_slot(api: Client) -> None:
    service = await make_service(api.app)
    await make_operators(api.app, 1)
    slot = (await free(api.app, service))[0]
    first = await api.post("/api/v1/bookings", json=booking_body(slot))
    assert first.status == 201
    token = (await first.json())["manage_link"].rsplit("/", 1)[1]
    assert (await api.post("/api/v1/bookings", json=booking_body(slot))).status == 409
    cancelled = await api.delete(f"/api/v1/bookings/{token}")
    assert cancelled.status == 200 and (await cancelled.json())["booking"]["status"] == "cancelled"
    assert (await api.delete(f"/api/v1/bookings/{token}")).status == 200  # idempotent
    assert (await api.delete("/api/v1/bookings/nope")).status == 404
    again = await api.post("/api/v1/bookings", json=booking_body(slot, citizen_name="Luca"))
    assert again.status == 201, await again.text()
    assert await count(api.app, Booking, Booking.status == BookingStatus.ACTIVE) == 1


async def test_idempotency_key_replays_the_first_answer(api: Client) -> None:
    service = await make_service(api.app)
    await make_operators(api.app, 3)
    slots = await free(api.app, service)
    headers = {"Idempotency-Key": "3f1c1b7e-booking-1"}
    first = await api.post("/api/v1/bookings", json=booking_body(slots[0]), headers=headers)
    assert first.status == 201
    replay = await api.post("/api/v1/bookings", json=booking_body(slots[0]), headers=headers)
    assert replay.status == 201 and await replay.json() == await first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await bookings(api) == 1
    reused = await api.post("/api/v1/bookings", json=booking_body(slots[1]), headers=headers)
    assert reused.status == 422 and (await reused.json())["error"] == "idempotency_key_reused"
    # The stored answer holds the links, encrypted: the join token is nowhere in the database in clear.
    async with api.app[sessionmaker_key]() as db:
        stored = (await db.scalars(select(IdempotencyRecord.body))).all()
    assert len(stored) == 1 and (await first.json())["join_link"].rsplit("/", 1)[1] not in stored[0]
    # The same request sent twice at once: one booking, the same answer twice.
    headers = {"Idempotency-Key": "3f1c1b7e-booking-2"}
    racing = await asyncio.gather(
        *(api.post("/api/v1/bookings", json=booking_body(slots[2]), headers=headers) for _ in "ab")
    )
    answers = [await r.json() for r in racing]
    assert [r.status for r in racing] == [201, 201] and answers[0] == answers[1]
    assert await bookings(api) == 2


async def test_public_endpoints_are_rate_limited(make_client: MakeClient) -> None:
    client = await make_client()
    client.app[limiter_key].limits = {"booking": Rate.of(2), "query": Rate.of(3)}
    await make_service(client.app)
    statuses = [(await client.get("/api/v1/services/ascolto/slots")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    for _ in range(2):
        assert (await client.post("/api/v1/bookings", json={})).status == 400
    limited = await client.post("/api/v1/bookings", json={})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert (await limited.json())["error"] == "too_many_attempts"


def _outside_hours(slots: list[Slot]) -> str:
    """03:00 Rome time on the last day with free slots: closed."""
    return to_utc(local_day(slots[-1].starts_at), time(3, 0)).isoformat()


@pytest.mark.parametrize(
    ("case", "status", "error", "fields"),
    [
        ("unknown_service", 404, "not_found", None),
        ("past", 400, "invalid_input", {"starts_at": "in_the_past"}),
        ("outside_hours", 400, "invalid_input", {"starts_at": "unavailable"}),
        ("off_grid", 400, "invalid_input", {"starts_at": "unavailable"}),
        ("naive_time", 400, "invalid_input", {"starts_at": "naive"}),
        ("bad_email", 400, "invalid_input", {"citizen_email": "invalid_email"}),
        ("bad_phone", 400, "invalid_input", {"citizen_phone": "invalid_phone"}),
        ("no_contact", 400, "invalid_input", {"citizen_email": "email_or_phone_required"}),
        ("no_privacy", 400, "invalid_input", {"privacy_accepted": "required"}),
        ("no_name", 400, "invalid_input", {"citizen_name": "required"}),
        ("operator_chosen", 400, "invalid_input", {"operator_id": "staff_only"}),
        ("unknown_field", 400, "invalid_input", {"surname": "unknown"}),
        ("mode_not_offered", 400, "invalid_input", {"mode": "not_offered"}),
        ("huge_body", 413, "payload_too_large", None),
        ("huge_chunked_body", 413, "payload_too_large", None),
        ("chunked_body", 400, "invalid_input", {"citizen_email": "invalid_email"}),
        ("malformed_json", 400, "invalid_json", None),
        ("not_an_object", 400, "invalid_json", None),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(
    api: Client, case: str, status: int, error: str, fields: dict[str, str] | None
) -> None:
    service = await make_service(api.app, modes="video")
    await make_operators(api.app, 1)
    slots = await free(api.app, service)
    variants: dict[str, Any] = {
        "unknown_service": booking_body(slots[0], service="nessuno"),
        "past": booking_body((utcnow() - timedelta(days=1)).isoformat()),
        "outside_hours": booking_body(_outside_hours(slots)),
        "off_grid": booking_body((slots[0].starts_at + timedelta(minutes=7)).isoformat()),
        "naive_time": booking_body(slots[0].starts_at.replace(tzinfo=None).isoformat()),
        "bad_email": booking_body(slots[0], citizen_email="maria@"),
        "bad_phone": booking_body(slots[0], citizen_email="", citizen_phone="call me"),
        "no_contact": booking_body(slots[0], citizen_email=""),
        "no_privacy": booking_body(slots[0], privacy_accepted=False),
        "no_name": booking_body(slots[0], citizen_name="  "),
        "operator_chosen": booking_body(slots[0], operator_id="x"),
        "unknown_field": booking_body(slots[0], surname="Rossi"),
        "mode_not_offered": booking_body(slots[0], mode="phone"),
    }
    if case == "huge_body":
        response = await api.post("/api/v1/bookings", json=booking_body(slots[0], citizen_name="M" * 20_000))
    elif case in ("huge_chunked_body", "chunked_body"):
        size = 20_000 if case == "huge_chunked_body" else 1
        encoded = json.dumps(booking_body(slots[0], citizen_name="M" * size, citizen_email="x")).encode()

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(encoded), 1000):
                yield encoded[i : i + 1000]

        response = await api.post("/api/v1/bookings", data=chunks(), headers={"Content-Type": "application/json"})
    elif case in ("malformed_json", "not_an_object"):
        raw = "{not json" if case == "malformed_json" else "[1, 2]"
        response = await api.post("/api/v1/bookings", data=raw, headers={"Content-Type": "application/json"})
    else:
        response = await api.post("/api/v1/bookings", json=variants[case])
    assert response.status == status, await response.text()
    answer = await response.json()
    assert answer["error"] == error and answer["message"]
    if fields is not None:
        assert answer["fields"] == fields
    assert await bookings(api) == 0
    assert await count(api.app, IdempotencyRecord) == 0


async def test_switchboard_books_for_a_caller_with_verbal_consent(api: Client) -> None:
    service = await make_service(api.app, bookable_online=False)
    operators = await make_operators(api.app, 2)
    switchboard = await make_staff(api.app, role=Role.SWITCHBOARD)
    csrf = await login(api, switchboard)
    slot = (await free(api.app, service))[0]
    listed = await (await api.get("/api/v1/services/ascolto/slots?days=14")).json()
    assert sorted(listed["slots"][0]["operator_ids"]) == sorted(op.id for op in operators)  # staff see who
    wanted = booking_body(
        slot, citizen_email=None, citizen_phone="333 123 4567", privacy_accepted=None, verbal_consent=True,
        operator_id=operators[1].id, mode="phone",
    )  # fmt: skip
    refused = await api.post("/api/v1/bookings", json=wanted)
    assert refused.status == 403 and await bookings(api) == 0  # a staff session needs its CSRF token
    response = await api.post("/api/v1/bookings", json=wanted, headers={"X-CSRF-Token": csrf})
    assert response.status == 201, await response.text()
    answer = await response.json()
    assert answer["booking"]["operator_id"] == operators[1].id and answer["booking"]["channel"] == "switchboard"
    async with api.app[sessionmaker_key]() as db:
        row = await db.scalar(select(Booking))
    assert row is not None and row.channel == BookingChannel.SWITCHBOARD
    assert row.verbal_consent_by == f"staff:{switchboard.id}" and row.verbal_consent_at is not None
    assert abs(row.verbal_consent_at - utcnow()) < timedelta(minutes=1)
    assert (row.citizen_phone, row.citizen_email, row.privacy_accepted_at) == ("333 123 4567", "", None)


async def test_bookings_through_the_api_spread_across_operators(api: Client) -> None:
    service = await make_service(api.app)
    operators = await make_operators(api.app, 3)
    day = full_day(await free(api.app, service), 6)
    for slot in day[:6]:
        assert (await api.post("/api/v1/bookings", json=booking_body(slot))).status == 201
    async with api.app[sessionmaker_key]() as db:
        per_operator = dict(
            (await db.execute(select(Booking.operator_id, func.count()).group_by(Booking.operator_id))).all()
        )
    assert per_operator == {op.id: 2 for op in operators}


async def test_openapi_document_describes_every_route(api: Client) -> None:
    response = await api.get("/api/v1/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] and doc["info"]["version"]
    routes = {
        (info.get("formatter") or info.get("path"), route.method.lower())
        for resource in api.app.router.resources()
        for route in resource
        for info in [resource.get_info()]
        if str(info.get("formatter") or info.get("path", "")).startswith("/api/v1/") and route.method != "HEAD"
    }
    assert routes and routes <= {(path, method) for path, item in doc["paths"].items() for method in item}
    schemas = doc["components"]["schemas"]
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    for ref in refs:
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in doc["components"][section], ref
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"] and operation["responses"], (path, method)
            for code, answer in operation["responses"].items():
                assert code.isdigit() and ("description" in answer or "$ref" in answer)
    assert {"Error", "Slot", "BookingRequest", "Booked", "SlotTaken"} <= set(schemas)
    booking_post = doc["paths"]["/api/v1/bookings"]["post"]
    assert {"201", "400", "409", "413", "422", "429"} <= set(booking_post["responses"])


async def test_the_citizen_moves_a_booking_with_the_manage_token(api: Client) -> None:
    service = await make_service(api.app)
    await make_operators(api.app, 1)
    slots = await free(api.app, service)
    first = await (await api.post("/api/v1/bookings", json=booking_body(slots[0]))).json()
    await api.post("/api/v1/bookings", json=booking_body(slots[1], citizen_name="Luca"))
    token = first["manage_link"].rsplit("/", 1)[1]
    moved = await api.post(f"/api/v1/bookings/{token}/move", json={"starts_at": slots[2].starts_at.isoformat()})
    assert moved.status == 200, await moved.text()
    answer = await moved.json()
    assert answer["booking"]["starts_at"] == slots[2].starts_at.isoformat().replace("+00:00", "Z")
    assert answer["join_link"] != first["join_link"] and answer["manage_link"] == first["manage_link"]
    taken = await api.post(f"/api/v1/bookings/{token}/move", json={"starts_at": slots[1].starts_at.isoformat()})
    assert taken.status == 409 and (await taken.json())["alternatives"]
    bad = await api.post(f"/api/v1/bookings/{token}/move", json={"starts_at": "tomorrow"})
    assert bad.status == 400 and (await bad.json())["fields"] == {"starts_at": "invalid"}
    assert (
        await api.post("/api/v1/bookings/nope/move", json={"starts_at": slots[3].starts_at.isoformat()})
    ).status == 404
    await api.delete(f"/api/v1/bookings/{token}")
    cancelled = await api.post(f"/api/v1/bookings/{token}/move", json={"starts_at": slots[3].starts_at.isoformat()})
    assert cancelled.status == 409
    async with api.app[sessionmaker_key]() as db:
        starts = sorted((await db.scalars(select(Booking.starts_at))).all())
    assert starts == [slots[1].starts_at, slots[2].starts_at]
