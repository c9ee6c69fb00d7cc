"""The citizen's booking pages (no login, no JavaScript needed): choose a service, a free slot, say who you are,
accept the privacy notice, book; the confirmation; the manage link's page to cancel or reschedule.

A slot taken a moment ago is not an error: the same page says so and offers the nearest free slots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

from aiohttp import web

from scheduling import booking as booking_domain
from scheduling import services as services_domain
from scheduling.availability import free_slots_for, load_service
from scheduling.booking import Booked, BookingRequest, ByToken, SlotTaken
from scheduling.slots import Slot
from server.client_address import client_address
from server.errors import Conflict, InvalidInput, NotFound
from server.keys import sessionmaker_key, settings_key
from server.models import Booking, BookingStatus, Service, utcnow
from web.api.ratelimit import limiter_key
from web.guard import Form, checked_public_form, issue_public_csrf, public_token
from web.i18n import negotiate
from web.links import absolute, join_url
from web.render import Context, page, see_other
from web.views.booking_support import PageLinks, by_day, choose_day, field_errors, parse_instant


def _public(request: web.Request, template: str, context: Context, *, status: int = 200) -> web.Response:
    public_token(request)
    response = page(template, request, context, status=status)
    issue_public_csrf(request, response)
    return response


async def _bookable(request: web.Request, slug: str) -> Service:
    service = await load_service(request.app[sessionmaker_key], slug)
    if not service.bookable_online:
        raise NotFound("this service cannot be booked online")
    return service


async def services(request: web.Request) -> web.StreamResponse:
    items = [s for s in await services_domain.list_services(request.app[sessionmaker_key]) if s.bookable_online]
    if len(items) == 1:
        return see_other(str(request.app.router["book_service"].url_for(slug=items[0].slug)))
    return _public(request, "book.html", {"services": items})


async def _slots_page(
    request: web.Request,
    service: Service,
    *,
    values: Mapping[str, object],
    errors: dict[str, str] | None = None,
    nearest: Sequence[Slot] | None = None,
    status: int = 200,
) -> web.Response:
    slots = await free_slots_for(request.app[sessionmaker_key], service, utcnow())
    context = {
        "service": service,
        "choice": choose_day(by_day(slots), request.query.get("day"), values.get("slot")),
        "nearest": by_day(nearest or []),
        "values": values,
        "errors": errors or {},
        "modes": [m for m in service.modes.split(",") if m],
    }
    return _public(request, "book_service.html", context, status=status)


async def service(request: web.Request) -> web.StreamResponse:
    bookable = await _bookable(request, request.match_info["slug"])
    return await _slots_page(request, bookable, values={"mode": "video"})


class Typed(TypedDict):
    """The booking form as typed, kept to show it again."""

    citizen_name: str
    citizen_email: str
    citizen_phone: str
    mode: str
    slot: str
    privacy_accepted: bool


def _typed(form: Form) -> Typed:
    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    return Typed(
        citizen_name=text("citizen_name"),
        citizen_email=text("citizen_email"),
        citizen_phone=text("citizen_phone"),
        mode=text("mode"),
        slot=text("slot"),
        privacy_accepted=form.get("privacy_accepted") == "on",
    )


def _limit(request: web.Request) -> None:
    """The public API's per-address brake on bookings, for the plain forms too (429 is a calm page)."""
    request.app[limiter_key].check("booking", client_address(request))


async def submit(request: web.Request) -> web.StreamResponse:
    form = await checked_public_form(request)
    _limit(request)
    bookable = await _bookable(request, request.match_info["slug"])
    values = _typed(form)
    starts_at = parse_instant(values["slot"])
    if starts_at is None:
        return await _slots_page(request, bookable, values=values, errors={"slot": "slot"}, status=400)
    booking_request = BookingRequest(
        service=bookable.slug, starts_at=starts_at, mode=values["mode"], citizen_name=values["citizen_name"],
        citizen_email=values["citizen_email"], citizen_phone=values["citizen_phone"],
        privacy_accepted=values["privacy_accepted"], lang=negotiate(request),
    )  # fmt: skip
    try:
        booked = await booking_domain.book(
            request.app[sessionmaker_key], request.app[settings_key], booking_request, utcnow(),
            links=PageLinks(request.app),
        )  # fmt: skip
    except SlotTaken as exc:
        values["slot"] = ""
        return await _slots_page(request, bookable, values=values, nearest=exc.alternatives, status=409)
    except InvalidInput as exc:
        errors = field_errors(exc)
        if errors.get("privacy_accepted"):
            errors["privacy_accepted"] = "privacy"
        return await _slots_page(request, bookable, values=values, errors=errors, status=400)
    return _confirmation(request, bookable, booked)


def _confirmation(request: web.Request, service: Service, booked: Booked) -> web.Response:
    context = {
        "service": service,
        "booking": booked.booking,
        "join_link": join_url(request.app, booked.join_token),
        "manage_link": absolute(request.app, "booking_manage", token=booked.manage_token),
    }
    response = page("book_done.html", request, context, status=201)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# The manage link: /booking/<token>


async def _manage_page(
    request: web.Request,
    booking: Booking,
    *,
    notice: str = "",
    error: str = "",
    nearest: Sequence[Slot] | None = None,
    join_link: str = "",
    status: int = 200,
) -> web.Response:
    sessionmaker, now = request.app[sessionmaker_key], utcnow()
    service = await load_service(sessionmaker, booking.service_id)
    active = booking.status == BookingStatus.ACTIVE and booking.starts_at > now
    slots = await free_slots_for(sessionmaker, service, now) if active and service.bookable_online else []
    context = {
        "booking": booking,
        "service": service,
        "active": active,
        "cancelled": booking.status == BookingStatus.CANCELLED,
        "choice": choose_day(by_day(slots), request.query.get("day")),
        "nearest": by_day(nearest or []),
        "notice": notice,
        "error": error,
        "token": request.match_info["token"],
        "join_link": join_link,
        "confirm": request.query.get("confirm") == "cancel",
    }
    return _public(request, "booking_manage.html", context, status=status)


async def manage(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    booking = await booking_domain.find(request.app[sessionmaker_key], ByToken(token))
    return await _manage_page(request, booking, notice=request.query.get("done", ""))


async def manage_cancel(request: web.Request) -> web.StreamResponse:
    await checked_public_form(request)
    _limit(request)
    token = request.match_info["token"]
    sessionmaker = request.app[sessionmaker_key]
    try:
        await booking_domain.cancel(
            sessionmaker, request.app[settings_key], ByToken(token), utcnow(),
            links=PageLinks(request.app), lang=negotiate(request),
        )  # fmt: skip
    except Conflict:
        booking = await booking_domain.find(sessionmaker, ByToken(token))
        return await _manage_page(request, booking, error="started", status=409)
    return see_other(str(request.app.router["booking_manage"].url_for(token=token).with_query(done="cancelled")))


async def manage_move(request: web.Request) -> web.StreamResponse:
    form = await checked_public_form(request)
    _limit(request)
    token = request.match_info["token"]
    sessionmaker = request.app[sessionmaker_key]
    starts_at = parse_instant(form.get("slot"))
    try:
        if starts_at is None:
            raise InvalidInput("no slot", {"slot": "slot"})
        moved = await booking_domain.move(
            sessionmaker, request.app[settings_key], ByToken(token), starts_at, utcnow(),
            links=PageLinks(request.app), lang=negotiate(request),
        )  # fmt: skip
    except SlotTaken as exc:
        booking = await booking_domain.find(sessionmaker, ByToken(token))
        return await _manage_page(request, booking, error="taken", nearest=exc.alternatives, status=409)
    except InvalidInput:
        booking = await booking_domain.find(sessionmaker, ByToken(token))
        return await _manage_page(request, booking, error="slot", status=400)
    except Conflict:
        booking = await booking_domain.find(sessionmaker, ByToken(token))
        return await _manage_page(request, booking, error="started", status=409)
    link = join_url(request.app, moved.join_token)
    return await _manage_page(request, moved.booking, notice="moved", join_link=link)
