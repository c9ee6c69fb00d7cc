"""Rendering a page: the template's own context plus what every page gets (language, links, staff, CSRF), and the
time helpers of the pages that show times (in Rome time, in the page's language)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import aiohttp_jinja2
from aiohttp import web
from babel.dates import format_date, format_datetime

from server import clock
from server.cases.alerts import alerted_roles
from server.keys import settings_key
from web import static_files
from web.i18n import LANGUAGES, negotiate, translate
from web.keys import login_csrf_key, page_staff_key

Context = Mapping[str, object]  # a template's variables


def page_context(request: web.Request) -> dict[str, object]:
    lang = negotiate(request)
    session = request.get(page_staff_key)

    def t(key: str, **params: object) -> str:
        return translate(lang, key, **params)

    def url(name: str, **parts: str) -> str:
        return str(request.app.router[name].url_for(**parts))

    def static(path: str) -> str:
        return static_files.url_for(request.app, path)

    settings = request.app[settings_key]
    staff = session.staff if session else None
    return {
        "lang": lang,
        "languages": LANGUAGES,
        "t": t,
        "url": url,
        "static": static,
        "settings": settings,
        "staff": staff,
        "alerted": staff is not None and staff.role in alerted_roles(settings),  # loads alerts.js
        "csrf_token": session.csrf_token if session else request.get(login_csrf_key, ""),
        "path": request.path,
    }


def render(template: str, request: web.Request, context: Context, *, status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, {**page_context(request), **context}, status=status)
    if "lang" in request.query and request.query["lang"] in LANGUAGES:
        # The visible switch: remember the choice for the next pages.
        secure = request.app[settings_key].cookies_secure
        response.set_cookie("lang", request.query["lang"], max_age=365 * 86400, samesite="Lax", path="/", secure=secure)
    return response


def see_other(location: str) -> web.Response:
    """A 303 redirect as a plain response, so cookies can be set on it before it is returned."""
    return web.Response(status=303, headers={"Location": location})


def when_text(request: web.Request, when: datetime, pattern: str = "EEEE d MMMM y, HH:mm") -> str:
    return format_datetime(clock.local(when), pattern, locale=negotiate(request))


def day_text(request: web.Request, day: date, pattern: str = "EEEE d MMMM y") -> str:
    return format_date(day, pattern, locale=negotiate(request))


def page(template: str, request: web.Request, context: Context, *, status: int = 200) -> web.Response:
    """``render`` plus ``when`` and ``day_label``, the time helpers of the pages that show times."""

    def when(value: datetime, pattern: str = "EEEE d MMMM y, HH:mm") -> str:
        return when_text(request, value, pattern)

    def day_label(value: date, pattern: str = "EEEE d MMMM y") -> str:
        return day_text(request, value, pattern)

    return render(template, request, {"when": when, "day_label": day_label, **context}, status=status)
