"""Citizen pages: the public landing page, the join link, the call page and its calm "not now" pages.

The join link ``/join/<token>`` never renders anything: it exchanges the token for an HttpOnly cookie and
redirects (303) to ``/call``, so the token does not stay in the address bar, the history, a Referer or the access
log. A link opened too early is remembered in a cookie too, so ``/call`` opens by itself when the time comes.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from babel.dates import format_datetime

from server import consultations, identity
from server.clock import ROME
from server.consultations import WindowState
from server.identity import CITIZEN_COOKIE
from server.keys import sessionmaker_key, settings_key
from server.models import Consultation, utcnow
from web.i18n import negotiate
from web.render import render, see_other

PENDING_COOKIE = "ascolto_pending"


async def index(request: web.Request) -> web.StreamResponse:
    return render("index.html", request, {})


def _cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=request.app[settings_key].cookies_secure,
        samesite="Lax",
        path="/",
        max_age=max(60, max_age),
    )


def _seconds_until_close(consultation: Consultation, request: web.Request) -> int:
    settings = request.app[settings_key]
    closes = consultation.ends_at.timestamp() + settings.join_late_minutes * 60
    return int(closes - utcnow().timestamp())


async def join(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    response = see_other(str(request.app.router["citizen_call"].url_for()))
    if len(token) > 100:
        return response  # lands on the calm "link not valid" page
    exchange = await consultations.exchange_token(request.app[sessionmaker_key], request.app[settings_key], token)
    if exchange.pass_secret and exchange.consultation:
        _cookie(
            request,
            response,
            CITIZEN_COOKIE,
            exchange.pass_secret,
            _seconds_until_close(exchange.consultation, request),
        )
        response.del_cookie(PENDING_COOKIE, path="/")
    elif exchange.state == WindowState.TOO_EARLY and exchange.consultation:
        _cookie(request, response, PENDING_COOKIE, token, _seconds_until_close(exchange.consultation, request))
    return response


async def call(request: web.Request) -> web.StreamResponse:
    seat = await identity.citizen_seat(request)
    if seat is not None and seat.state == WindowState.OPEN:
        return _call_page(request, seat.consultation)
    pending = request.cookies.get(PENDING_COOKIE)
    if pending and len(pending) <= 100:
        exchange = await consultations.exchange_token(request.app[sessionmaker_key], request.app[settings_key], pending)
        if exchange.pass_secret and exchange.consultation:
            response = _call_page(request, exchange.consultation)
            _cookie(
                request,
                response,
                CITIZEN_COOKIE,
                exchange.pass_secret,
                _seconds_until_close(exchange.consultation, request),
            )
            response.del_cookie(PENDING_COOKIE, path="/")
            return response
        if exchange.state == WindowState.TOO_EARLY and exchange.consultation:
            return _not_now(request, WindowState.TOO_EARLY, exchange.consultation)
        response = _not_now(request, exchange.state, exchange.consultation)
        response.del_cookie(PENDING_COOKIE, path="/")
        return response
    if seat is not None:
        return _not_now(request, seat.state, seat.consultation)
    return _not_now(request, WindowState.EXPIRED, None)


def _call_page(request: web.Request, consultation: Consultation) -> web.Response:
    return render("citizen_call.html", request, {"room": consultation.id, "citizen_name": consultation.citizen_name})


def _local_time(when: datetime, lang: str) -> str:
    return format_datetime(when.astimezone(ROME), "EEEE d MMMM, HH:mm", locale=lang)


def _not_now(request: web.Request, state: WindowState, consultation: Consultation | None) -> web.Response:
    """The calm page: when to come back, the service's phone number and the emergency number."""
    lang = negotiate(request)
    context: dict[str, object] = {"state": state.value, "opens_at": None, "refresh_seconds": None}
    if state == WindowState.TOO_EARLY and consultation is not None:
        opens = consultations.opens_at(consultation, request.app[settings_key])
        context["opens_at"] = _local_time(opens, lang)
        wait = int((opens - utcnow()).total_seconds()) + 2
        # Reload by itself when the room opens (a meta refresh: no script needed); re-check at least hourly.
        context["refresh_seconds"] = max(5, min(wait, 3600))
    status = 200 if state == WindowState.TOO_EARLY else 410
    return render("not_now.html", request, context, status=status)
