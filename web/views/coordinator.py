"""The coordinator's pages: services with their booking rules, weekly opening hours and closures; the outbox."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web
from holidays.countries.italy import Italy

from scheduling import services as services_domain
from server import actors
from server import outbox as outbox_domain
from server.errors import NotFound
from server.keys import sessionmaker_key
from server.models import BookingMode, Role
from web.forms import WEEKDAYS, FormErrors, format_ranges, parse_date, parse_int, parse_week
from web.guard import Form, checked_form, require_role
from web.render import page, see_other

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,58}$")
SUBDIVISION = re.compile(r"^[A-Z]{0,3}$")
NUMBERS = {
    "session_minutes": (5, 240),
    "buffer_minutes": (0, 120),
    "min_notice_minutes": (0, 10080),
    "horizon_days": (1, 365),
}


def _url(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


async def services(request: web.Request) -> web.StreamResponse:
    await require_role(request, Role.COORDINATOR)
    items = await services_domain.list_services(request.app[sessionmaker_key])
    return page("schedule_services.html", request, {"services": items, "errors": {}, "values": {}})


async def service_create(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.COORDINATOR)
    form = await checked_form(request, session)
    sessionmaker = request.app[sessionmaker_key]
    values = {"slug": str(form.get("slug", "")).strip().lower(), "name": str(form.get("name", "")).strip()}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "required"
    elif len(values["name"]) > 200:
        errors["name"] = "too_long"
    if not SLUG.match(values["slug"]):
        errors["slug"] = "bad_slug"
    elif await services_domain.slug_taken(sessionmaker, values["slug"]):
        errors["slug"] = "slug_taken"
    if errors:
        items = await services_domain.list_services(sessionmaker)
        context = {"services": items, "errors": errors, "values": values}
        return page("schedule_services.html", request, context, status=400)
    service = await services_domain.create_service(
        sessionmaker, slug=values["slug"], name=values["name"], actor=actors.staff(session.staff.id)
    )
    return see_other(_url(request, "schedule_service", id=service.id))


def _rule_values(settings: services_domain.ServiceSettings) -> dict[str, object]:
    service = settings.service
    values: dict[str, object] = {field: getattr(service, field) for field in services_domain.RULE_FIELDS}
    values["modes"] = service.modes.split(",") if service.modes else []
    for weekday in WEEKDAYS:
        values[f"day{weekday}"] = format_ranges(settings.hours[weekday])
    return values


async def _service_page(
    request: web.Request,
    service_id: str,
    *,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, object] | None = None,
    notice: str = "",
    status: int = 200,
) -> web.Response:
    settings = await services_domain.service_settings(request.app[sessionmaker_key], service_id)
    context = {
        "service": settings.service,
        "closures": settings.closures,
        "values": {**_rule_values(settings), **(typed or {})},
        "errors": errors or {},
        "notice": notice or request.query.get("saved", ""),
        "modes": [mode.value for mode in BookingMode],
        "weekdays": list(WEEKDAYS),
    }
    return page("schedule_service.html", request, context, status=status)


async def service(request: web.Request) -> web.StreamResponse:
    await require_role(request, Role.COORDINATOR)
    return await _service_page(request, request.match_info["id"])


def parse_rules(form: Form) -> tuple[services_domain.Rules | None, dict[str, object], dict[str, str]]:
    """(what to store, None when a field is wrong; what was typed; the errors)."""
    errors = FormErrors({})
    typed: dict[str, object] = {field: str(form.get(field, "")).strip() for field in services_domain.RULE_FIELDS}

    def number(field: str) -> int | None:
        return errors.check(field, parse_int, typed[field], *NUMBERS[field])

    session_minutes, buffer_minutes = number("session_minutes"), number("buffer_minutes")
    notice_minutes, horizon_days = number("min_notice_minutes"), number("horizon_days")
    modes = [mode for mode in map(str, form.getall("modes", [])) if mode in {m.value for m in BookingMode}]
    typed["modes"] = modes
    if not modes:
        errors.fields["modes"] = "pick_one"
    disciplines = ",".join(part.strip() for part in str(typed["disciplines"]).split(",") if part.strip())
    if len(disciplines) > 300:
        errors.fields["disciplines"] = "too_long"
    typed["holiday_subdivision"] = subdivision = str(typed["holiday_subdivision"]).upper()
    if not SUBDIVISION.match(subdivision) or (subdivision and subdivision not in Italy.subdivisions):
        errors.fields["holiday_subdivision"] = "bad_subdivision"
    typed["bookable_online"] = bookable_online = form.get("bookable_online") == "on"
    if session_minutes is None or buffer_minutes is None or notice_minutes is None or horizon_days is None:
        return None, typed, errors.fields
    if errors.fields:
        return None, typed, errors.fields
    rules = services_domain.Rules(
        session_minutes=session_minutes,
        buffer_minutes=buffer_minutes,
        min_notice_minutes=notice_minutes,
        horizon_days=horizon_days,
        modes=",".join(modes),
        disciplines=disciplines,
        holiday_subdivision=subdivision,
        bookable_online=bookable_online,
    )
    return rules, typed, errors.fields


async def service_rules(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.COORDINATOR)
    form = await checked_form(request, session)
    service_id = request.match_info["id"]
    rules, typed, errors = parse_rules(form)
    if rules is None:
        return await _service_page(request, service_id, errors=errors, typed=typed, status=400)
    await services_domain.save_rules(request.app[sessionmaker_key], service_id, rules, actors.staff(session.staff.id))
    return see_other(_url(request, "schedule_service", id=service_id) + "?saved=rules")


async def service_hours(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.COORDINATOR)
    form = await checked_form(request, session)
    service_id = request.match_info["id"]
    week, typed, errors = parse_week(form)
    if errors:
        return await _service_page(request, service_id, errors=errors, typed=typed, status=400)
    await services_domain.save_hours(request.app[sessionmaker_key], service_id, week, actors.staff(session.staff.id))
    return see_other(_url(request, "schedule_service", id=service_id) + "?saved=hours")


async def closure_add(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.COORDINATOR)
    form = await checked_form(request, session)
    service_id = request.match_info["id"]
    errors = FormErrors({})
    day = errors.check("closure_day", parse_date, form.get("closure_day"))
    reason = str(form.get("closure_reason", "")).strip()
    if len(reason) > 200:
        errors.fields["closure_reason"] = "too_long"
    if errors.fields or day is None:
        typed = {"closure_day": str(form.get("closure_day", "")), "closure_reason": reason}
        return await _service_page(request, service_id, errors=errors.fields, typed=typed, status=400)
    actor = actors.staff(session.staff.id)
    await services_domain.add_closure(request.app[sessionmaker_key], service_id, day, reason, actor)
    return see_other(_url(request, "schedule_service", id=service_id) + "?saved=closures#closures")


async def closure_remove(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.COORDINATOR)
    await checked_form(request, session)
    service_id = request.match_info["id"]
    closure_id = request.match_info["closure"]
    if not closure_id.isdigit():
        raise NotFound("no such closure")
    await services_domain.remove_closure(
        request.app[sessionmaker_key], service_id, int(closure_id), actors.staff(session.staff.id)
    )
    return see_other(_url(request, "schedule_service", id=service_id) + "?saved=closures#closures")


async def outbox(request: web.Request) -> web.StreamResponse:
    """Recipients, subjects and states of the outgoing email; no bodies."""
    await require_role(request, Role.COORDINATOR)
    messages = await outbox_domain.latest(request.app[sessionmaker_key])
    return page("outbox.html", request, {"messages": messages, "message": None})


async def outbox_message(request: web.Request) -> web.StreamResponse:
    """One email as the citizen reads it, but with their links redacted (``.../join/••••``): rows hold them so,
    and anything that still looks like a link's secret is redacted again here (rows from before migration 0008
    were redacted by it)."""
    session = await require_role(request, Role.COORDINATOR)
    message = await outbox_domain.read_message(
        request.app[sessionmaker_key], request.match_info["id"], actors.staff(session.staff.id)
    )
    context = {"messages": [], "message": message, "body": outbox_domain.redact_text(message.body)}
    return page("outbox.html", request, context)
