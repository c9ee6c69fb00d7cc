"""Booking by staff: the switchboard on a caller's behalf (soonest free slots across all operators) and an
operator's follow-up for the citizen of a consultation. Both end on a page with the join link to dictate or send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from scheduling import booking as booking_domain
from scheduling import services as services_domain
from scheduling.availability import free_slots_for, load_service
from scheduling.booking import Booked, BookingRequest, SlotTaken
from server import cases, consultations, staff_lists
from server.auth import SessionInfo
from server.cases import records
from server.errors import InvalidInput
from server.keys import sessionmaker_key, settings_key
from server.models import Role, Service, utcnow
from web.guard import Form, checked_form, require_role
from web.i18n import negotiate
from web.links import join_url
from web.render import page
from web.views.booking_support import PageLinks, SlotDay, by_day, choose_day, field_errors, group_token, parse_instant

BOOKERS = (Role.SWITCHBOARD, Role.OPERATOR, Role.COORDINATOR)


async def _chosen_service(request: web.Request, slug: str) -> Service | None:
    return await load_service(request.app[sessionmaker_key], slug) if slug else None


async def _form_page(
    request: web.Request,
    *,
    values: Mapping[str, object],
    errors: dict[str, str] | None = None,
    taken: bool = False,
    operator_id: str | None = None,
    consultation_id: str | None = None,
    status: int = 200,
) -> web.Response:
    """The booking form: services, the chosen service's free slots (of one operator for a follow-up)."""
    sessionmaker = request.app[sessionmaker_key]
    services = await services_domain.list_services(sessionmaker)
    service = await _chosen_service(request, str(values.get("service", "")))
    days: list[SlotDay] = []
    if service is not None:
        days = by_day(await free_slots_for(sessionmaker, service, utcnow(), operator_id=operator_id))
    choice = choose_day(days, request.query.get("day"), values.get("slot"))
    ids = {op for slot in (choice.chosen.slots if choice.chosen else []) for op in slot.operators}
    context = {
        "services": services,
        "service": service,
        "choice": choice,
        "operators": sorted((await staff_lists.names(sessionmaker, ids)).items(), key=lambda item: item[1]),
        "values": values,
        "errors": errors or {},
        "taken": taken,
        "follow_up": consultation_id,
    }
    return page("switchboard.html", request, context, status=status)


async def switchboard(request: web.Request) -> web.StreamResponse:
    await require_role(request, *BOOKERS)
    return await _form_page(request, values={"service": request.query.get("service", ""), "mode": "phone"})


class Typed(TypedDict):
    """The booking form as typed, kept to show it again."""

    citizen_name: str
    citizen_phone: str
    citizen_email: str
    service: str
    mode: str
    operator: str
    slot: str
    verbal_consent: bool


def _typed(form: Form) -> Typed:
    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    return Typed(
        citizen_name=text("citizen_name"),
        citizen_phone=text("citizen_phone"),
        citizen_email=text("citizen_email"),
        service=text("service"),
        mode=text("mode"),
        operator=text("operator"),
        slot=text("slot"),
        verbal_consent=form.get("verbal_consent") == "on",
    )


async def _book(
    request: web.Request,
    session: SessionInfo,
    values: Typed,
    operator_id: str | None,
    case_id: str | None = None,
) -> Booked:
    starts_at = parse_instant(values["slot"])
    if starts_at is None:
        errors = {"slot": "slot"}
        if not values["verbal_consent"]:
            errors["verbal_consent"] = "consent"
        raise InvalidInput("no slot", errors)
    booking_request = BookingRequest(
        service=values["service"], starts_at=starts_at, mode=values["mode"], citizen_name=values["citizen_name"],
        citizen_email=values["citizen_email"], citizen_phone=values["citizen_phone"],
        verbal_consent=values["verbal_consent"], operator_id=operator_id, staff=session.staff, lang=negotiate(request),
    )  # fmt: skip
    return await booking_domain.book(
        request.app[sessionmaker_key], request.app[settings_key], booking_request, utcnow(),
        links=PageLinks(request.app), within=_tied_to(case_id) if case_id else None,
    )  # fmt: skip


def _tied_to(case_id: str) -> booking_domain.WithBooking:
    """A follow-up carries the case it was booked from (docs/cases.md: contacts are never merged by email or
    phone), so that it and its consultation join that case."""

    async def tie(db: AsyncSession, booked: booking_domain.Booked) -> tuple[()]:
        booked.booking.case_id = case_id
        return ()

    return tie


async def switchboard_book(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *BOOKERS)
    values = _typed(await checked_form(request, session))
    try:
        booked = await _book(request, session, values, values["operator"] or None)
    except SlotTaken:
        return await _form_page(request, values={**values, "slot": ""}, taken=True, status=409)
    except InvalidInput as exc:
        return await _form_page(request, values=values, errors=field_errors(exc), status=400)
    return await _result(request, booked)


async def _result(request: web.Request, booked: Booked) -> web.Response:
    booking = booked.booking
    service = await load_service(request.app[sessionmaker_key], booking.service_id)
    names = await staff_lists.names(request.app[sessionmaker_key], {booking.operator_id})
    context = {
        "booking": booking,
        "service": service,
        "operator_name": names.get(booking.operator_id, ""),
        "join_link": join_url(request.app, booked.join_token),
        "base": join_url(request.app, ""),
        "groups": group_token(booked.join_token),
    }
    return page("switchboard_done.html", request, context, status=201)


async def follow_up(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.OPERATOR, Role.COORDINATOR)
    consultation = await consultations.get_for_staff(
        request.app[sessionmaker_key], session.staff, request.match_info["id"]
    )
    values = {
        "citizen_name": consultation.citizen_name,
        "citizen_phone": consultation.citizen_phone,
        "citizen_email": consultation.citizen_email,
        "service": request.query.get("service", ""),
        "mode": "video",
    }
    if not values["service"] and consultation.service_id:
        values["service"] = consultation.service_id
    return await _form_page(request, values=values, operator_id=session.staff.id, consultation_id=consultation.id)


async def follow_up_book(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.OPERATOR, Role.COORDINATOR)
    values = _typed(await checked_form(request, session))
    consultation_id = request.match_info["id"]
    await consultations.get_for_staff(request.app[sessionmaker_key], session.staff, consultation_id)
    case = await records.case_of_consultation(cases.context(request.app), session.staff, consultation_id)
    mine = session.staff.id
    try:
        booked = await _book(request, session, values, mine, case.id)
    except SlotTaken:
        values["slot"] = ""
        return await _form_page(
            request, values=values, taken=True, status=409, operator_id=mine, consultation_id=consultation_id
        )
    except InvalidInput as exc:
        errors = field_errors(exc)
        return await _form_page(
            request, values=values, errors=errors, status=400, operator_id=mine, consultation_id=consultation_id
        )
    return await _result(request, booked)
