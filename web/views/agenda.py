"""The operator's agenda page (day and week, :mod:`scheduling.agenda`), each session's join button, cancel and
move."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from scheduling import agenda as agenda_domain
from scheduling import booking as booking_domain
from scheduling.availability import free_slots_for, load_service
from scheduling.booking import ByStaff, SlotTaken
from scheduling.operators import list_operators
from server import clock
from server.auth import SessionInfo
from server.clock import ROME
from server.errors import InvalidInput
from server.keys import sessionmaker_key, settings_key
from server.models import Booking, Role, Staff, utcnow
from web.forms import parse_date
from web.guard import checked_form, require_role
from web.i18n import negotiate
from web.render import page, see_other
from web.views.booking_support import PageLinks, by_day, choose_day, parse_instant

AGENDA_ROLES = (Role.OPERATOR, Role.COORDINATOR, Role.SUPERVISOR)  # a supervisor sees the team meetings
MOVE_DAYS = 14


async def _whose(request: web.Request, session: SessionInfo) -> tuple[str, list[Staff]]:
    """Whose agenda: one's own; the coordinator may pick an operator's."""
    if session.staff.role != Role.COORDINATOR:
        return session.staff.id, []
    operators = await list_operators(request.app[sessionmaker_key])
    wanted = request.query.get("operator", "")
    return (wanted if any(op.id == wanted for op in operators) else session.staff.id), operators


async def agenda(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *AGENDA_ROLES)
    view = "week" if request.query.get("view") == "week" else "day"
    try:
        day = parse_date(request.query.get("day")) if request.query.get("day") else clock.today()
    except ValueError:
        day = clock.today()
    first = day - timedelta(days=day.weekday()) if view == "week" else day
    days = 7 if view == "week" else 1
    whose, operators = await _whose(request, session)
    sessionmaker, settings = request.app[sessionmaker_key], request.app[settings_key]
    context = {
        "view": view,
        "day": day,
        "days": await agenda_domain.entries(sessionmaker, settings, whose, first, days, utcnow()),
        "whose": whose,
        "own": whose == session.staff.id,
        "operators": operators,
        "previous": (first - timedelta(days=days)).isoformat(),
        "next": (first + timedelta(days=days)).isoformat(),
        "today": clock.today().isoformat(),
        "notice": request.query.get("done", ""),
        "join_early": settings.join_early_minutes,
    }
    return page("agenda.html", request, context)


def _back(request: web.Request, booking: Booking, done: str) -> str:
    day = booking.starts_at.astimezone(ROME).date().isoformat()
    query = {"day": day, "done": done, "operator": booking.operator_id}
    return str(request.app.router["agenda"].url_for().with_query(query))


async def cancel_confirm(request: web.Request) -> web.StreamResponse:
    """One more step before a session is cancelled (the citizen is emailed at once)."""
    session = await require_role(request, *AGENDA_ROLES)
    booking = await booking_domain.find(request.app[sessionmaker_key], ByStaff(session.staff, request.match_info["id"]))
    return page("agenda_cancel.html", request, {"booking": booking})


async def cancel(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *AGENDA_ROLES)
    await checked_form(request, session)
    ref = ByStaff(session.staff, request.match_info["id"])
    cancelled = await booking_domain.cancel(
        request.app[sessionmaker_key], request.app[settings_key], ref, utcnow(),
        links=PageLinks(request.app), lang=negotiate(request),
    )  # fmt: skip
    return see_other(_back(request, cancelled, "cancelled"))


async def _move_page(
    request: web.Request, booking: Booking, *, error: str = "", taken: bool = False, status: int = 200
) -> web.Response:
    sessionmaker, now = request.app[sessionmaker_key], utcnow()
    service = await load_service(sessionmaker, booking.service_id)
    slots = await free_slots_for(
        sessionmaker, service, now, operator_id=booking.operator_id, days=MOVE_DAYS, ignore_booking_id=booking.id
    )
    context = {
        "booking": booking,
        "service": service,
        "choice": choose_day(by_day(slots), request.query.get("day")),
        "error": error,
        "taken": taken,
    }
    return page("agenda_move.html", request, context, status=status)


async def move_form(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *AGENDA_ROLES)
    booking = await booking_domain.find(request.app[sessionmaker_key], ByStaff(session.staff, request.match_info["id"]))
    return await _move_page(request, booking)


async def move_submit(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *AGENDA_ROLES)
    form = await checked_form(request, session)
    sessionmaker = request.app[sessionmaker_key]
    ref = ByStaff(session.staff, request.match_info["id"])
    current = await booking_domain.find(sessionmaker, ref)
    starts_at = parse_instant(form.get("slot"))
    if starts_at is None:
        return await _move_page(request, current, error="slot", status=400)
    try:
        moved = await booking_domain.move(
            sessionmaker, request.app[settings_key], ref, starts_at, utcnow(),
            operator_id=current.operator_id, links=PageLinks(request.app), lang=negotiate(request),
        )  # fmt: skip
    except SlotTaken:
        return await _move_page(request, current, taken=True, status=409)
    except InvalidInput as exc:
        return await _move_page(request, current, error=next(iter(exc.fields.values()), "slot"), status=400)
    return see_other(_back(request, moved.booking, "moved"))
