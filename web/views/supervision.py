"""Group supervision rooms: the list and the form to create a one-off room, the room page (device check, then the
group call driven by ``static/js/group.js`` over ``/ws/group``), the attendance register, and the room of a
recurring team meeting. Who may enter and who moderates is ``server.supervision``'s to say."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import TypedDict

from aiohttp import web

from server import clock, staff_lists, supervision
from server.auth import SessionInfo
from server.errors import Forbidden, InvalidInput
from server.keys import sessionmaker_key
from server.models import Role, utcnow
from web.forms import FormErrors, parse_date, parse_int, parse_time
from web.guard import Form, checked_form, require_role, require_staff
from web.render import page, see_other

MANAGERS = (Role.SUPERVISOR, Role.COORDINATOR)
SHOWN_DAYS = 120  # one-off rooms listed on the supervision page, from now
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_DIGIT_RUN = re.compile(r"\+?\d(?:[ .\-/]?\d){5,}")  # six digits or more, maybe spaced
_DATE = re.compile(r"\d{1,2}[./\-]\d{1,2}[./\-](?:\d{4}|\d{2})")


def agenda_problem(text: str) -> str | None:
    """Why an agenda may not be stored (it holds topics and case codes, never a way to reach a person)."""
    if _EMAIL.search(text):
        return "agenda_email"
    for match in _DIGIT_RUN.finditer(text):
        if _looks_like_phone(match.group()):
            return "agenda_phone"
    return None


def _looks_like_phone(run: str) -> bool:
    """Nine digits or more; seven or more after +, 0 (landline) or 3 (mobile). A date or a case code like
    2024-0153 is not one."""
    if _DATE.fullmatch(run):
        return False
    digits = re.sub(r"\D", "", run)
    return len(digits) >= 9 or (len(digits) >= 7 and run[0] in "+03")


# -- the list and the form -------------------------------------------------------------------------------------


async def _list_page(
    request: web.Request, session: SessionInfo, errors: dict[str, str], values: Mapping[str, object], status: int = 200
) -> web.Response:
    now = utcnow()
    maker = request.app[sessionmaker_key]
    context = {
        "rooms": await supervision.rooms_for(maker, session.staff, now, now + timedelta(days=SHOWN_DAYS)),
        "series_rooms": await supervision.series_rooms_for(maker, session.staff),
        "people": await staff_lists.active(maker),
        "errors": errors,
        "values": values,
    }
    return page("supervision.html", request, context, status=status)


async def rooms_page(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *MANAGERS)
    return await _list_page(request, session, {}, {"minutes": "90", "invitees": []})


class RoomForm(TypedDict):
    """The new room's form as typed, kept to show it again."""

    title: str
    day: str
    at: str
    minutes: str
    agenda: str
    invitees: list[str]


def _form_values(form: Form) -> RoomForm:
    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    return RoomForm(
        title=text("title"),
        day=text("day"),
        at=text("at"),
        minutes=text("minutes"),
        agenda=str(form.get("agenda", "")),
        invitees=[str(v) for v in form.getall("invitees", [])],
    )


def _check(values: RoomForm, now: datetime) -> tuple[dict[str, str], datetime | None, int]:
    """The fields to fix, the room's start (UTC) and its minutes."""
    check = FormErrors({})
    title = values["title"]
    if not title or len(title) > supervision.MAX_TITLE:
        check.fields["title"] = "required" if not title else "too_long"
    day: date | None = check.check("day", parse_date, values["day"])
    at: time | None = check.check("at", parse_time, values["at"])
    minutes = check.check("minutes", parse_int, values["minutes"], 15, supervision.MAX_MINUTES)
    if len(values["agenda"]) > supervision.MAX_AGENDA:
        check.fields["agenda"] = "too_long"
    elif problem := agenda_problem(values["agenda"]):
        check.fields["agenda"] = problem
    if not values["invitees"]:
        check.fields["invitees"] = "pick_one"
    starts_at = None
    if day is not None and at is not None:
        starts_at = clock.instant(day, at)
        if minutes is not None and starts_at + timedelta(minutes=minutes) < now:
            check.fields["day"] = "in_the_past"
    return check.fields, starts_at, minutes or 0


async def room_create(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *MANAGERS)
    form = await checked_form(request, session)
    values = _form_values(form)
    errors, starts_at, minutes = _check(values, utcnow())
    if errors:
        return await _list_page(request, session, errors, values, status=400)
    try:
        room = await supervision.create_room(
            request.app[sessionmaker_key],
            session.staff,
            title=values["title"],
            starts_at=starts_at,
            minutes=minutes,
            agenda=values["agenda"],
            invitees=values["invitees"],
        )
    except InvalidInput as exc:
        fields = {k: ("unknown_invitee" if k == "invitees" else v) for k, v in exc.fields.items()}
        return await _list_page(request, session, fields or {"title": "required"}, values, status=400)
    return see_other(str(request.app.router["supervision_room"].url_for(id=room.id)))


async def series_room_open(request: web.Request) -> web.StreamResponse:
    """The room of a recurring team meeting: made on first asking, the same room after that."""
    session = await require_role(request, *MANAGERS)
    await checked_form(request, session)
    room = await supervision.open_series_room(request.app[sessionmaker_key], session.staff, request.match_info["id"])
    return see_other(str(request.app.router["supervision_room"].url_for(id=room.id)))


# -- the room ----------------------------------------------------------------------------------------------------


async def room(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    room_id = request.match_info["id"]
    try:
        granted = await supervision.grant(request.app[sessionmaker_key], session.staff, room_id)
    except supervision.MeetingOver:
        found = await supervision.get_room(request.app[sessionmaker_key], room_id)
        return page("supervision_over.html", request, {"room": found}, status=410)
    found = await supervision.get_room(request.app[sessionmaker_key], room_id)
    context = {
        "room": found,
        "grant": granted,
        "ws_path": str(request.app.router["ws_group"].url_for()),
        "may_register": granted.moderator or session.staff.role == Role.COORDINATOR,
    }
    return page("supervision_room.html", request, context)


async def room_register(request: web.Request) -> web.StreamResponse:
    """The attendance register: moderators of the room and coordinators."""
    session = await require_staff(request)
    room_id = request.match_info["id"]
    maker = request.app[sessionmaker_key]
    if not (await supervision.grant(maker, session.staff, room_id, ended=True)).moderator:
        raise Forbidden("the register is for the room's moderators")
    context = {"room": await supervision.get_room(maker, room_id), "stays": await supervision.register(maker, room_id)}
    return page("supervision_register.html", request, context)
