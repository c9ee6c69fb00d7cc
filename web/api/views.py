"""The JSON API handlers (``/api/v1``): thin; parse, call one scheduling function, answer JSON.

Errors are raised as domain exceptions and answered by the one error middleware as
``{"error", "message", "fields"}``; the only one answered here is ``slot_taken``, which carries alternatives.
A staff session (cookie) must send its CSRF token in ``X-CSRF-Token``; the public is rate-limited per address.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from scheduling import booking
from scheduling import services as services_domain
from scheduling.availability import free_slots_for, load_service
from scheduling.booking import STAFF_BOOKERS, Booked, ByToken, SlotTaken
from server import actors, identity
from server.auth import SessionInfo
from server.client_address import client_address
from server.clock import TIMEZONE
from server.crypto import same
from server.errors import Forbidden, NotFound
from server.keys import sessionmaker_key, settings_key
from server.models import Base, utcnow
from server.origins import origin_allowed
from web.api import idempotency, payload
from web.api.idempotency import HEADER, IdempotencyKey
from web.api.openapi import document
from web.api.ratelimit import limiter_key

CSRF_HEADER = "X-CSRF-Token"
MAX_TOKEN = 100


async def _staff(request: web.Request) -> SessionInfo | None:
    """The staff session behind the cookie, if any and allowed to book; None for the public."""
    if identity.STAFF_COOKIE not in request.cookies:
        return None
    session = await identity.staff_session(request)
    if session is None or session.staff.role not in STAFF_BOOKERS:
        return None
    return session


async def _public_or_staff(request: web.Request, kind: str) -> SessionInfo | None:
    session = await _staff(request)
    if session is None:
        request.app[limiter_key].check(kind, client_address(request))
    return session


def _check_csrf(request: web.Request, session: SessionInfo) -> None:
    origin = request.headers.get("Origin")
    same_site = origin == "null" and request.headers.get("Sec-Fetch-Site") == "same-origin"
    if origin is not None and not same_site and not origin_allowed(request.app[settings_key], origin):
        raise Forbidden("cross-site request refused")
    token = request.headers.get(CSRF_HEADER, "")
    if not token or not same(token, session.csrf_token):
        raise Forbidden(f"a staff request needs the session's {CSRF_HEADER} header")


async def services(request: web.Request) -> web.Response:
    session = await _public_or_staff(request, "query")
    rows = await services_domain.list_services(request.app[sessionmaker_key], bookable_online_only=session is None)
    found = [payload.service_json(s) for s in rows]
    return web.json_response({"services": found})


async def slots(request: web.Request) -> web.Response:
    session = await _public_or_staff(request, "query")
    first, days = payload.slot_query(request.query)
    sessionmaker = request.app[sessionmaker_key]
    service = await load_service(sessionmaker, request.match_info["slug"])
    if session is None and not service.bookable_online:
        raise NotFound("this service cannot be booked online")
    found = await free_slots_for(sessionmaker, service, utcnow(), first_day=first, days=days)
    staff = session is not None
    return web.json_response(
        {
            "service": service.slug,
            "timezone": TIMEZONE,
            "slots": [payload.slot_json(s, staff=staff) for s in found],
        }
    )


def _booked_json(request: web.Request, booked: Booked, *, staff: bool) -> payload.JsonObject:
    links = payload.ApiLinks(request.app)
    return {
        "booking": payload.booking_json(booked.booking, booked.service.slug, staff=staff),
        "join_link": links.join(booked.join_token),
        "manage_link": links.manage(booked.manage_token),
    }


def _slot_taken(exc: SlotTaken, *, staff: bool) -> web.Response:
    body = {
        "error": exc.code,
        "message": exc.message,
        "alternatives": [payload.slot_json(s, staff=staff) for s in exc.alternatives],
    }
    return web.json_response(body, status=exc.status)


def _replayed(replay: idempotency.Replay) -> web.Response:
    return web.json_response(replay.body, status=replay.status, headers={"Idempotent-Replayed": "true"})


async def create_booking(request: web.Request) -> web.Response:
    session = await _public_or_staff(request, "booking")
    if session is not None:
        _check_csrf(request, session)
    body = await payload.read_json(request)
    staff = session.staff if session is not None else None
    wanted = payload.booking_request(body, staff)
    scope = actors.staff(staff.id) if staff is not None else "public"
    key = IdempotencyKey.of(request.headers.get(HEADER), scope, body)
    sessionmaker, now = request.app[sessionmaker_key], utcnow()
    if key is not None and (replay := await idempotency.lookup(sessionmaker, key, now)):
        return _replayed(replay)
    answer: payload.JsonObject = {}

    async def within(db: AsyncSession, booked: Booked) -> list[Base]:
        answer.update(_booked_json(request, booked, staff=staff is not None))
        if key is None:
            return []
        return [await idempotency.answer_row(db, key, web.HTTPCreated.status_code, answer, now)]

    try:
        await booking.book(
            sessionmaker, request.app[settings_key], wanted, now, links=payload.ApiLinks(request.app), within=within
        )
    except SlotTaken as exc:
        if key is not None and (replay := await idempotency.lookup(sessionmaker, key, now)):
            return _replayed(replay)  # the same request, sent twice at once: the other one booked
        return _slot_taken(exc, staff=staff is not None)
    return web.json_response(answer, status=web.HTTPCreated.status_code)


async def cancel_booking(request: web.Request) -> web.Response:
    request.app[limiter_key].check("booking", client_address(request))
    token = request.match_info["manage_token"]
    if len(token) > MAX_TOKEN:
        raise NotFound("no such booking")
    cancelled = await booking.cancel(
        request.app[sessionmaker_key],
        request.app[settings_key],
        ByToken(token),
        utcnow(),
        links=payload.ApiLinks(request.app),
    )
    service = await load_service(request.app[sessionmaker_key], cancelled.service_id)
    return web.json_response({"booking": payload.booking_json(cancelled, service.slug, staff=False)})


async def move_booking(request: web.Request) -> web.Response:
    """The citizen reschedules with the manage token: ``{"starts_at": ...}`` -> the booking and a new join link."""
    request.app[limiter_key].check("booking", client_address(request))
    token = request.match_info["manage_token"]
    if len(token) > MAX_TOKEN:
        raise NotFound("no such booking")
    starts_at = payload.move_request(await payload.read_json(request))
    links = payload.ApiLinks(request.app)
    sessionmaker = request.app[sessionmaker_key]
    try:
        moved = await booking.move(
            sessionmaker, request.app[settings_key], ByToken(token), starts_at, utcnow(), links=links
        )
    except SlotTaken as exc:
        return _slot_taken(exc, staff=False)
    service = await load_service(sessionmaker, moved.booking.service_id)
    return web.json_response(
        {
            "booking": payload.booking_json(moved.booking, service.slug, staff=False),
            "join_link": links.join(moved.join_token),
            "manage_link": links.manage(token),
        }
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[settings_key].base_url))
