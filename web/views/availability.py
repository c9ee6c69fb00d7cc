"""Operators' availability: weekly hours, date overrides (absence, extra hours) and the daily cap.

The coordinator edits anyone's; an operator sees and edits only their own.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from scheduling import operators as availability_settings
from server import actors
from server.auth import SessionInfo
from server.errors import Forbidden, NotFound
from server.keys import sessionmaker_key
from server.models import OverrideKind, Role
from web.forms import WEEKDAYS, FormErrors, format_ranges, parse_date, parse_int, parse_time, parse_week
from web.guard import checked_form, require_role
from web.render import page, see_other

EDITORS = (Role.COORDINATOR, Role.OPERATOR)


async def _editor_for(request: web.Request) -> tuple[SessionInfo, str]:
    """The session and the operator whose availability it may edit (403 for someone else's)."""
    session = await require_role(request, *EDITORS)
    staff_id = request.match_info["staff_id"]
    if session.staff.role != Role.COORDINATOR and staff_id != session.staff.id:
        raise Forbidden("only your own availability")
    return session, staff_id


def _url(request: web.Request, staff_id: str) -> str:
    return str(request.app.router["availability"].url_for(staff_id=staff_id))


async def availability_list(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, *EDITORS)
    if session.staff.role != Role.COORDINATOR:
        return see_other(_url(request, session.staff.id))
    operators = await availability_settings.list_operators(request.app[sessionmaker_key])
    return page("availability_list.html", request, {"operators": operators})


async def _page(
    request: web.Request,
    staff_id: str,
    *,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, object] | None = None,
    status: int = 200,
) -> web.Response:
    settings = await availability_settings.operator_settings(request.app[sessionmaker_key], staff_id)
    values: dict[str, object] = {f"day{d}": format_ranges(settings.weekly[d]) for d in WEEKDAYS}
    values["daily_cap"] = "" if settings.staff.daily_cap is None else str(settings.staff.daily_cap)
    values["override_kind"] = "absence"
    context = {
        "operator": settings.staff,
        "overrides": settings.overrides,
        "values": {**values, **(typed or {})},
        "errors": errors or {},
        "weekdays": list(WEEKDAYS),
        "notice": request.query.get("saved", ""),
    }
    return page("availability.html", request, context, status=status)


async def availability(request: web.Request) -> web.StreamResponse:
    _session, staff_id = await _editor_for(request)
    return await _page(request, staff_id)


async def availability_weekly(request: web.Request) -> web.StreamResponse:
    session, staff_id = await _editor_for(request)
    form = await checked_form(request, session)
    week, typed, errors = parse_week(form)
    cap_text = str(form.get("daily_cap", "")).strip()
    typed["daily_cap"] = cap_text
    cap = None
    if cap_text:
        checker = FormErrors(errors)
        cap = checker.check("daily_cap", parse_int, cap_text, 1, 30)
    if errors:
        return await _page(request, staff_id, errors=errors, typed=typed, status=400)
    actor = actors.staff(session.staff.id)
    await availability_settings.save_weekly(request.app[sessionmaker_key], staff_id, week, cap, actor)
    return see_other(_url(request, staff_id) + "?saved=weekly")


async def override_add(request: web.Request) -> web.StreamResponse:
    session, staff_id = await _editor_for(request)
    form = await checked_form(request, session)
    typed = {k: str(form.get(k, "")).strip() for k in ("override_day", "override_kind", "override_from", "override_to")}
    errors = FormErrors({})
    day = errors.check("override_day", parse_date, typed["override_day"])
    kind = OverrideKind(typed["override_kind"]) if typed["override_kind"] in set(OverrideKind) else None
    if kind is None:
        errors.fields["override_kind"] = "required"
    span = None
    if typed["override_from"] or typed["override_to"] or kind == OverrideKind.EXTRA:
        start = errors.check("override_from", parse_time, typed["override_from"])
        end = errors.check("override_to", parse_time, typed["override_to"])
        if start and end and end <= start:
            errors.fields["override_to"] = "range_order"
        span = (start, end) if start and end else None
    if errors.fields or day is None or kind is None:
        return await _page(request, staff_id, errors=errors.fields, typed=typed, status=400)
    await availability_settings.add_override(
        request.app[sessionmaker_key], staff_id, day=day, kind=kind, span=span, actor=actors.staff(session.staff.id)
    )
    return see_other(_url(request, staff_id) + "?saved=overrides#overrides")


async def override_remove(request: web.Request) -> web.StreamResponse:
    session, staff_id = await _editor_for(request)
    await checked_form(request, session)
    override_id = request.match_info["override"]
    if not override_id.isdigit():
        raise NotFound("no such override")
    await availability_settings.remove_override(
        request.app[sessionmaker_key], staff_id, int(override_id), actors.staff(session.staff.id)
    )
    return see_other(_url(request, staff_id) + "?saved=overrides#overrides")
