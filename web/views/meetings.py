"""Recurring team meetings (group supervision): the supervisor or the coordinator creates a weekly or fortnightly
series with its invited staff, and skips, moves or restores single meetings. Invitees see them on their agenda."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict

from aiohttp import web

from scheduling import series as meetings
from server import clock, staff_lists, supervision
from server.errors import InvalidInput
from server.keys import sessionmaker_key
from server.models import Role, utcnow
from web.forms import FormErrors, parse_date, parse_int, parse_time
from web.guard import Form, checked_form, require_role
from web.render import page, see_other

MANAGERS = (Role.SUPERVISOR, Role.COORDINATOR)
REPEATS = {"weekly": "FREQ=WEEKLY;INTERVAL=1", "fortnightly": "FREQ=WEEKLY;INTERVAL=2"}
SHOWN_WEEKS = 12


async def meetings_page(request: web.Request) -> web.StreamResponse:
    await require_role(request, *MANAGERS)
    return await _list_page(request, {}, {"minutes": "90", "repeat": "weekly"})


async def _list_page(
    request: web.Request, errors: dict[str, str], values: Mapping[str, object], status: int = 200
) -> web.Response:
    context = {
        "series": await meetings.all_series(request.app[sessionmaker_key]),
        "people": await staff_lists.active(request.app[sessionmaker_key]),
        "errors": errors,
        "values": values,
        "repeats": list(REPEATS),
    }
    return page("meetings.html", request, context, status=status)


class SeriesForm(TypedDict):
    """The new series' form as typed, kept to show it again."""

    title: str
    first_day: str
    at: str
    minutes: str
    repeat: str
    invitees: list[str]


def _series_form(form: Form) -> SeriesForm:
    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    return SeriesForm(
        title=text("title"),
        first_day=text("first_day"),
        at=text("at"),
        minutes=text("minutes"),
        repeat=text("repeat"),
        invitees=[str(v) for v in form.getall("invitees", [])],
    )


async def meeting_create(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *MANAGERS)
    form = await checked_form(request, session)
    values = _series_form(form)
    check = FormErrors({})
    if not values["title"] or len(values["title"]) > 200:
        check.fields["title"] = "required" if not values["title"] else "too_long"
    day = check.check("first_day", parse_date, values["first_day"])
    at = check.check("at", parse_time, values["at"])
    minutes = check.check("minutes", parse_int, values["minutes"], 15, 480)
    if values["repeat"] not in REPEATS:
        check.fields["repeat"] = "pick_one"
    if not values["invitees"]:
        check.fields["invitees"] = "pick_one"
    if check.fields or day is None or at is None or minutes is None:
        return await _list_page(request, check.fields, values, status=400)
    try:
        created = await meetings.create_series(
            request.app[sessionmaker_key],
            title=values["title"],
            rrule=REPEATS[values["repeat"]],
            starts_at=clock.instant(day, at),
            minutes=minutes,
            created_by=session.staff.id,
            invitees=values["invitees"],
        )
    except InvalidInput:
        return await _list_page(request, {"first_day": "bad_date"}, values, status=400)
    return see_other(str(request.app.router["meeting"].url_for(id=created.id)))


async def meeting(request: web.Request) -> web.StreamResponse:
    await require_role(request, *MANAGERS)
    detail = await meetings.series_detail(request.app[sessionmaker_key], request.match_info["id"])
    context = {"meeting": detail.series, "invitees": detail.invitees, "upcoming": _upcoming(detail), "error": None}
    return page("meeting.html", request, {**context, "room_id": await _room_id(request, detail.series.id)})


def _upcoming(detail: meetings.SeriesDetail) -> list[meetings.Upcoming]:
    return meetings.upcoming(detail, utcnow(), SHOWN_WEEKS)


async def _room_id(request: web.Request, series_id: str) -> str | None:
    """The series' supervision room, when it has one."""
    return (await supervision.series_rooms(request.app[sessionmaker_key], [series_id])).get(series_id)


def _original(form: Form) -> datetime:
    try:
        value = datetime.fromisoformat(str(form.get("original", "")))
    except ValueError:
        raise InvalidInput("no meeting at that time", {"original": "bad_date"}) from None
    if value.tzinfo is None:
        raise InvalidInput("no meeting at that time", {"original": "bad_date"})
    return value


async def meeting_change(request: web.Request) -> web.StreamResponse:
    """Skip, restore or move one meeting of the series (``action`` in the form)."""
    session = await require_role(request, *MANAGERS)
    form = await checked_form(request, session)
    series_id = request.match_info["id"]
    sessionmaker = request.app[sessionmaker_key]
    original = _original(form)
    action = form.get("action")
    if action == "skip":
        await meetings.skip_occurrence(sessionmaker, series_id, original)
    elif action == "restore":
        await meetings.restore_occurrence(sessionmaker, series_id, original)
    elif action == "move":
        check = FormErrors({})
        day = check.check("day", parse_date, form.get("day"))
        at = check.check("at", parse_time, form.get("at"))
        if check.fields or day is None or at is None:
            detail = await meetings.series_detail(sessionmaker, series_id)
            context = {"meeting": detail.series, "invitees": detail.invitees, "upcoming": _upcoming(detail)}
            context["room_id"] = await _room_id(request, series_id)
            return page("meeting.html", request, {**context, "error": "bad_date"}, status=400)
        await meetings.move_occurrence(sessionmaker, series_id, original, clock.instant(day, at))
    else:
        raise InvalidInput("unknown action", {"action": "pick_one"})
    return see_other(str(request.app.router["meeting"].url_for(id=series_id)))
