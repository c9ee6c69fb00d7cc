"""Shared by the scheduling pages: role checks, form parsing, Europe/Rome times, the public forms' CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import pairwise
from typing import Any

from aiohttp import web
from babel.dates import format_date, format_datetime
from multidict import MultiDictProxy

from server import clock
from server.auth import SessionInfo
from server.crypto import new_secret
from server.errors import Forbidden
from server.keys import settings_key
from server.models import Role
from web.guard import checked_double_submit_form, require_staff
from web.i18n import negotiate
from web.keys import login_csrf_key
from web.render import render

PUBLIC_CSRF_COOKIE = "ascolto_public_csrf"
WEEKDAYS = range(7)
_RANGE = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-–]\s*(\d{1,2})[:.](\d{2})\s*$")


async def require_role(request: web.Request, *roles: Role) -> SessionInfo:
    """The staff session, if its role is one of ``roles``; else the calm 403 page."""
    session = await require_staff(request)
    if session.staff.role not in roles:
        raise Forbidden("this page is for another role")
    return session


# Parsing. Each parser returns a value or raises ValueError with the error key shown next to the field.


def parse_int(raw: object, low: int, high: int) -> int:
    text = str(raw or "").strip()
    if not text:
        raise ValueError("required")
    if not text.isdigit():
        raise ValueError("not_a_number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError("out_of_range")
    return value


def parse_time(raw: object) -> time:
    text = str(raw or "").strip()
    if not text:
        raise ValueError("required")
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", text)
    if not match:
        raise ValueError("bad_time")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError("bad_time")
    return time(hour, minute)


def parse_date(raw: object) -> date:
    text = str(raw or "").strip()
    if not text:
        raise ValueError("required")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("bad_date") from None


def parse_ranges(raw: object) -> list[tuple[time, time]]:
    """``"09:30-13:00, 14:00-18:00"`` -> sorted, non-overlapping local ranges; empty text: none."""
    text = str(raw or "").strip()
    if not text:
        return []
    ranges: list[tuple[time, time]] = []
    for part in re.split(r"[,;]", text):
        match = _RANGE.match(part)
        if not match:
            raise ValueError("bad_ranges")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError("bad_ranges")
        start, end = time(h1, m1), time(h2, m2)
        if end <= start:
            raise ValueError("range_order")
        ranges.append((start, end))
    ranges.sort()
    if any(later[0] < earlier[1] for earlier, later in pairwise(ranges)):
        raise ValueError("range_overlap")
    return ranges


def format_ranges(ranges: Iterable[tuple[time, time]]) -> str:
    return ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in ranges)


@dataclass
class FormErrors:
    """Field -> error key; ``check`` runs a parser and keeps its error instead of raising."""

    fields: dict[str, str]

    def check(self, field: str, parse: Any, *args: Any) -> Any:
        try:
            return parse(*args)
        except ValueError as exc:
            self.fields[field] = str(exc)
            return None


# Times as people read them: Europe/Rome, labelled on the page.


def local(when: datetime) -> datetime:
    return clock.local(when)


def when_text(request: web.Request, when: datetime, pattern: str = "EEEE d MMMM y, HH:mm") -> str:
    return format_datetime(local(when), pattern, locale=negotiate(request))


def day_text(request: web.Request, day: date, pattern: str = "EEEE d MMMM y") -> str:
    return format_date(day, pattern, locale=negotiate(request))


def today_rome() -> date:
    return clock.today()


# CSRF for the anonymous (citizen) forms: the double-submit pattern of the login form, on its own cookie.


def issue_public_csrf(request: web.Request, response: web.StreamResponse) -> None:
    """Give the page's forms the cookie's token (or a new one) and set the cookie on ``response``."""
    token = request.get(login_csrf_key) or request.cookies.get(PUBLIC_CSRF_COOKIE) or new_secret()
    request[login_csrf_key] = token
    response.set_cookie(
        PUBLIC_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=request.app[settings_key].cookies_secure,
    )


def public_token(request: web.Request) -> str:
    """The token to put in the page's forms (call before rendering; ``issue_public_csrf`` sets the cookie)."""
    token = request.cookies.get(PUBLIC_CSRF_COOKIE) or new_secret()
    request[login_csrf_key] = token
    return token


async def checked_public_form(request: web.Request) -> MultiDictProxy[Any]:
    return await checked_double_submit_form(request, PUBLIC_CSRF_COOKIE)


def page(template: str, request: web.Request, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """``render`` plus the time helpers every scheduling template uses (Europe/Rome, in the page's language)."""

    def when(value: datetime, pattern: str = "EEEE d MMMM y, HH:mm") -> str:
        return when_text(request, value, pattern)

    def day_label(value: date, pattern: str = "EEEE d MMMM y") -> str:
        return day_text(request, value, pattern)

    return render(template, request, {"when": when, "day_label": day_label, **context}, status=status)
