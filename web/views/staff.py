"""Staff pages: login, logout, the console, a consultation's room."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from yarl import URL

from scheduling import notify
from server import actors, auth, consultations, mfa, outbox
from server.client_address import client_address
from server.errors import InvalidInput, TooManyAttempts
from server.identity import STAFF_COOKIE
from server.keys import keyring_key, sessionmaker_key, settings_key
from server.models import Consultation, utcnow
from web.guard import (
    LOGIN_CSRF_COOKIE,
    checked_form,
    checked_login_form,
    issue_login_csrf,
    require_staff,
)
from web.i18n import negotiate
from web.keys import page_staff_key
from web.links import join_url
from web.render import render, see_other

CONSOLE = "/console"  # where a login lands when ``next`` is missing or not a same-site path
MAX_NEXT = 500  # the longest ``next`` kept (a pending MFA login stores it in a 500-character column)


def _safe_next(value: object) -> str:
    """``value`` if it is a same-site path, else the console: never an open redirect, never a split header.

    Refused rather than cleaned: control characters anywhere (browsers drop tabs and newlines, so ``/\t/evil``
    would become ``//evil``; a newline would split the Location header after the session was made) and
    backslashes (read as ``/``); anything not starting with exactly one ``/``; anything urllib or yarl reads with
    a scheme or a host. What is kept is yarl's encoding of it (ASCII, percent-encoded), as a Location must be.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT:
        return CONSOLE
    if any(char < " " or char in "\x7f\\" for char in value):
        return CONSOLE
    if not value.startswith("/") or value.startswith("//"):
        return CONSOLE
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return CONSOLE
    try:
        url = URL(value)
    except ValueError:
        return CONSOLE
    safe = str(url)
    if url.is_absolute() or url.host is not None or not safe.startswith("/") or safe.startswith("//"):
        return CONSOLE
    return safe if safe.isascii() and len(safe) <= MAX_NEXT else CONSOLE


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    settings = request.app[settings_key]
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=settings.cookies_secure,
        samesite="Lax",
        path="/",
        max_age=settings.session_absolute_hours * 3600,
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    cookies: dict[str, str] = {}
    issue_login_csrf(request, cookies)
    response = render("login.html", request, {"next": _safe_next(request.query.get("next")), "error": None})
    for name, value in cookies.items():
        secure = request.app[settings_key].cookies_secure
        response.set_cookie(name, value, httponly=True, secure=secure, samesite="Strict", path="/login")
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await checked_login_form(request)
    email, password = form.get("email", ""), form.get("password", "")
    next_url = _safe_next(form.get("next"))
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        return _login_error(request, "login.error.missing", next_url, email, 400)
    try:
        result = await auth.login(
            request.app[sessionmaker_key],
            request.app[settings_key],
            email=email,
            password=password,
            address=client_address(request),
            previous_session=request.cookies.get(STAFF_COOKIE),
            next_url=next_url,
        )
    except TooManyAttempts as exc:
        response = _login_error(request, "login.error.throttled", next_url, email, 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if result is None:
        return _login_error(request, "login.error.invalid", next_url, email, 401)
    if isinstance(result, auth.SecondFactorPending):
        return _second_factor(request, result)
    secret, _session = result
    response = see_other(next_url)
    _set_cookie(request, response, STAFF_COOKIE, secret)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _second_factor(request: web.Request, pending: auth.SecondFactorPending) -> web.Response:
    """The password was right, but the role must use MFA: no session, only the pending login's cookie (sent to
    the /login pages alone), and on to the code page, or to enrolment first."""
    page = "mfa_code" if pending.enrolled else "mfa_enrol"
    response = see_other(str(request.app.router[page].url_for()))
    response.set_cookie(
        mfa.MFA_COOKIE,
        pending.secret,
        httponly=True,
        secure=request.app[settings_key].cookies_secure,
        samesite="Strict",
        path="/login",
        max_age=int(mfa.PENDING_LIFETIME.total_seconds()),
    )
    response.del_cookie(STAFF_COOKIE, path="/")
    return response


def _login_error(request: web.Request, key: str, next_url: str, email: object, status: int) -> web.Response:
    context = {"next": next_url, "error": key, "email": email if isinstance(email, str) else ""}
    return render("login.html", request, context, status=status)


async def logout(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    await checked_form(request, session)
    secret = request.cookies.get(STAFF_COOKIE)
    if secret:
        await auth.logout(request.app[sessionmaker_key], secret)
    response = see_other(str(request.app.router["login"].url_for()))
    response.del_cookie(STAFF_COOKIE, path="/")
    return response


async def _console_context(request: web.Request, **extra: object) -> dict[str, object]:
    session = request[page_staff_key]
    since = utcnow() - timedelta(hours=12)
    items = await consultations.list_for_operator(request.app[sessionmaker_key], session.staff, since=since)
    return {"consultations": items, "errors": {}, "values": {}, "created": None, **extra}


async def console(request: web.Request) -> web.StreamResponse:
    await require_staff(request)
    return render("console.html", request, await _console_context(request))


async def create(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    form = await checked_form(request, session)
    values = {k: str(form.get(k, "")) for k in ("citizen_name", "citizen_email", "citizen_phone")}
    try:
        new = await consultations.create_consultation(
            request.app[sessionmaker_key],
            request.app[settings_key],
            operator=session.staff,
            citizen_name=values["citizen_name"],
            citizen_email=values["citizen_email"],
            citizen_phone=values["citizen_phone"],
        )
    except InvalidInput as exc:
        context = await _console_context(request, errors=exc.fields, values=values)
        return render("console.html", request, context, status=400)
    return _room_page(request, new.consultation, join_url(request.app, new.token), status=201)


async def room(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    consultation = await consultations.get_for_staff(
        request.app[sessionmaker_key], session.staff, request.match_info["id"]
    )
    return _room_page(request, consultation, None)


def _room_page(
    request: web.Request, consultation: Consultation, link: str | None, *, status: int = 200, notice: str = ""
) -> web.Response:
    """The operator's page for one consultation: the citizen's link (when just made) and the call."""
    context = {
        "consultation": consultation,
        "join_link": link,
        "notice": notice,
        "state": consultations.window_state(consultation, request.app[settings_key]).value,
    }
    return render("operator_call.html", request, context, status=status)


async def new_link(request: web.Request) -> web.StreamResponse:
    """A fresh join link (the old one stops working): links are shown once, never stored in clear."""
    session = await require_staff(request)
    await checked_form(request, session)
    sessionmaker = request.app[sessionmaker_key]
    token = await consultations.reissue_token(sessionmaker, session.staff, request.match_info["id"])
    consultation = await consultations.get_for_staff(sessionmaker, session.staff, request.match_info["id"])
    return _room_page(request, consultation, join_url(request.app, token))


async def email_link(request: web.Request) -> web.StreamResponse:
    """Issue a fresh link and put it in an email to the citizen. The outbox row holds the link redacted and
    sealed (:mod:`server.outbox`); the operator who asked sees it once here, as after "new link". Without SMTP
    the email is kept for staff to read, redacted: the page says so, and the operator gives the link in person."""
    session = await require_staff(request)
    await checked_form(request, session)
    sessionmaker = request.app[sessionmaker_key]
    consultation_id = request.match_info["id"]
    consultation = await consultations.get_for_staff(sessionmaker, session.staff, consultation_id)
    if not consultation.citizen_email:
        notice = "room.email.none"
        return _room_page(request, consultation, None, status=400, notice=notice)
    token = await consultations.reissue_token(sessionmaker, session.staff, consultation_id)
    link = join_url(request.app, token)
    links = outbox.placeholders(link)
    settings = request.app[settings_key]
    # redacted in the text: the link itself goes in sealed
    subject, body = notify.link_email(negotiate(request), settings, name=consultation.citizen_name, link=links[0][0])
    await outbox.enqueue(
        sessionmaker,
        request.app[keyring_key],
        to=consultation.citizen_email,
        subject=subject,
        body=body,
        links=links,
        consultation_id=consultation.id,
        actor=actors.staff(session.staff.id),
    )
    notice = "room.email.sent" if settings.smtp_host else "room.email.kept"
    return _room_page(request, consultation, link, notice=notice)
