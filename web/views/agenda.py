"""The operator's agenda (day and week), each session's join button, cancel and move.

The join button opens the consultation's page from ``join_early_minutes`` before the start; the server decides
and says why it is not yet (or no longer) open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from scheduling import booking as booking_domain
from scheduling import series
from scheduling.availability import free_slots_for, load_service
from scheduling.booking import ByStaff, SlotTaken
from server import supervision
from server.auth import SessionInfo
from server.clock import ROME
from server.errors import InvalidInput
from server.keys import sessionmaker_key, settings_key
from server.models import Booking, BookingStatus, Role, Staff, SupervisionRoom, utcnow
from server.settings import Settings
from web.guard import checked_form
from web.i18n import negotiate
from web.render import see_other
from web.views.booking_support import PageLinks, by_day, choose_day, parse_instant
from web.views.schedule_common import page, parse_date, require_role, today_rome
from web.views.settings_store import list_operators

AGENDA_ROLES = (Role.OPERATOR, Role.COORDINATOR, Role.SUPERVISOR)  # a supervisor sees the team meetings
MOVE_DAYS = 14


@dataclass(frozen=True)
class Entry:
    """One line of the agenda: a booked session (with its join state), a team meeting (``room_id``: the series'
    supervision room, if it has one) or a one-off supervision room."""

    starts_at: datetime
    booking: Booking | None = None
    meeting: series.Occurrence | None = None
    room: SupervisionRoom | None = None
    room_id: str = ""
    ends_at: datetime | None = None  # a supervision room's end
    join: str = ""  # "open", "too_early" or "over"
    opens_at: datetime | None = None


def join_state(booking: Booking, settings: Settings, now: datetime) -> tuple[str, datetime]:
    opens = booking.starts_at - timedelta(minutes=settings.join_early_minutes)
    if now < opens:
        return "too_early", opens
    if now > booking.ends_at + timedelta(minutes=settings.join_late_minutes):
        return "over", opens
    return "open", opens


def _bounds(first: date, days: int) -> tuple[datetime, datetime]:
    start = datetime.combine(first, datetime.min.time(), ROME)
    end = datetime.combine(first + timedelta(days=days), datetime.min.time(), ROME)
    return start, end


async def _bookings(request: web.Request, staff_id: str, first: date, days: int) -> list[Booking]:
    start, end = _bounds(first, days)
    async with request.app[sessionmaker_key]() as db:
        rows = await db.scalars(
            select(Booking)
            .where(
                Booking.operator_id == staff_id,
                Booking.status == BookingStatus.ACTIVE,
                Booking.starts_at >= start,
                Booking.starts_at < end,
            )
            .order_by(Booking.starts_at)
        )
        return list(rows)


async def _entries(request: web.Request, staff_id: str, first: date, days: int) -> dict[date, list[Entry]]:
    now, settings = utcnow(), request.app[settings_key]
    entries: dict[date, list[Entry]] = {first + timedelta(days=i): [] for i in range(days)}
    found = []
    for row in await _bookings(request, staff_id, first, days):
        state, opens = join_state(row, settings, now)
        found.append(Entry(row.starts_at, booking=row, join=state, opens_at=opens))
    start, end = _bounds(first, days)
    found.extend(await _meetings_and_rooms(request, staff_id, start, end))
    for entry in sorted(found, key=lambda e: e.starts_at):
        entries.setdefault(entry.starts_at.astimezone(ROME).date(), []).append(entry)
    return entries


async def _meetings_and_rooms(request: web.Request, staff_id: str, start: datetime, end: datetime) -> list[Entry]:
    """Team meetings (with their series' room) and the one-off supervision rooms ``staff_id`` may enter."""
    sessionmaker = request.app[sessionmaker_key]
    meetings = await series.occurrences_for_staff(sessionmaker, staff_id, start, end)
    rooms = await supervision.series_rooms(sessionmaker, sorted({m.series_id for m in meetings}))
    found = [Entry(m.starts_at, meeting=m, room_id=rooms.get(m.series_id, "")) for m in meetings]
    async with sessionmaker() as db:
        person = await db.get(Staff, staff_id)
    if person is not None:
        for room in await supervision.rooms_for(sessionmaker, person, start, end):
            if room.starts_at is not None and start <= room.starts_at < end:
                ends_at = room.starts_at + timedelta(minutes=room.minutes)
                over = "over" if room.ended_at is not None else ""
                found.append(Entry(room.starts_at, room=room, room_id=room.id, ends_at=ends_at, join=over))
    return found


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
        day = parse_date(request.query.get("day")) if request.query.get("day") else today_rome()
    except ValueError:
        day = today_rome()
    first = day - timedelta(days=day.weekday()) if view == "week" else day
    days = 7 if view == "week" else 1
    whose, operators = await _whose(request, session)
    context = {
        "view": view,
        "day": day,
        "days": await _entries(request, whose, first, days),
        "whose": whose,
        "own": whose == session.staff.id,
        "operators": operators,
        "previous": (first - timedelta(days=days)).isoformat(),
        "next": (first + timedelta(days=days)).isoformat(),
        "today": today_rome().isoformat(),
        "notice": request.query.get("done", ""),
        "join_early": request.app[settings_key].join_early_minutes,
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
