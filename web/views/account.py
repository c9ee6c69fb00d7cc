"""A staff member's own account: the second factor at login (code page, enrolment), one's password.

The code and enrolment pages accept only a pending login (:mod:`server.mfa`, the ``ascolto_mfa`` cookie, sent to
``/login`` paths alone); no other page and no socket does. A pending login has its own CSRF token.
"""

from __future__ import annotations

from aiohttp import web

from server import mfa, staff_admin
from server.crypto import same
from server.errors import InvalidInput, TooManyAttempts
from server.identity import STAFF_COOKIE
from server.keys import keyring_key, sessionmaker_key, settings_key
from web.guard import CsrfError, check_origin, checked_form, require_staff
from web.render import render, see_other
from web.views.staff import _set_cookie

PASSWORD_FIELDS = ("current", "new", "confirm")


def _login(request: web.Request) -> web.Response:
    response = see_other(str(request.app.router["login"].url_for()))
    response.del_cookie(mfa.MFA_COOKIE, path="/login")
    return response


async def _pending(request: web.Request) -> mfa.Pending | None:
    secret = request.cookies.get(mfa.MFA_COOKIE)
    return await mfa.pending(request.app[sessionmaker_key], secret) if secret else None


async def _pending_form(request: web.Request, item: mfa.Pending) -> str:
    """The posted code, after checking the pending login's CSRF token."""
    check_origin(request)
    form = await request.post()
    token = form.get("csrf_token")
    if not isinstance(token, str) or not same(token, item.csrf_token):
        raise CsrfError(text="the form expired: go back, reload the page and try again")
    code = form.get("code", "")
    return code.strip()[:40] if isinstance(code, str) else ""


def _page(request: web.Request, template: str, item: mfa.Pending, status: int = 200, **extra: object) -> web.Response:
    context = {"csrf_token": item.csrf_token, "member": item.staff, "error": None, "ended": False, **extra}
    return render(template, request, context, status=status)


def _signed_in(request: web.Request, response: web.Response, completed: mfa.Completed) -> web.Response:
    _set_cookie(request, response, STAFF_COOKIE, completed.session_secret)
    response.del_cookie(mfa.MFA_COOKIE, path="/login")
    return response


def _refused(request: web.Request, template: str, item: mfa.Pending, exc: Exception, **extra: object) -> web.Response:
    """A wrong code (the form again, or the end of this pending login) or a wait."""
    if isinstance(exc, TooManyAttempts):
        response = _page(request, template, item, 429, error="mfa.error.wait", **extra)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, mfa.WrongCode) and exc.ended:
        response = render("mfa_code.html", request, {"error": "mfa.error.ended", "ended": True}, status=429)
        response.del_cookie(mfa.MFA_COOKIE, path="/login")
        return response
    return _page(request, template, item, 400, error="mfa.error.wrong", **extra)


# --- the code page ----------------------------------------------------------------------------------------


async def code_form(request: web.Request) -> web.StreamResponse:
    item = await _pending(request)
    if item is None:
        return _login(request)
    if not item.enrolled:
        return see_other(str(request.app.router["mfa_enrol"].url_for()))
    return _page(request, "mfa_code.html", item)


async def code_submit(request: web.Request) -> web.StreamResponse:
    item = await _pending(request)
    if item is None:
        return _login(request)
    code = await _pending_form(request, item)
    try:
        completed = await mfa.verify(request.app[sessionmaker_key], request.app[keyring_key], item, code)
    except (mfa.WrongCode, TooManyAttempts) as exc:
        return _refused(request, "mfa_code.html", item, exc)
    return _signed_in(request, see_other(completed.next_url), completed)


# --- enrolment --------------------------------------------------------------------------------------------


async def _enrolment(request: web.Request, item: mfa.Pending) -> mfa.Enrolment:
    settings = request.app[settings_key]
    return await mfa.begin_enrolment(
        request.app[sessionmaker_key], request.app[keyring_key], item, settings.service_name
    )


async def enrol_form(request: web.Request) -> web.StreamResponse:
    item = await _pending(request)
    if item is None:
        return _login(request)
    if item.enrolled:
        return see_other(str(request.app.router["mfa_code"].url_for()))
    return _page(request, "mfa_enrol.html", item, enrolment=await _enrolment(request, item))


async def enrol_submit(request: web.Request) -> web.StreamResponse:
    item = await _pending(request)
    if item is None:
        return _login(request)
    if item.enrolled:
        return see_other(str(request.app.router["mfa_code"].url_for()))
    code = await _pending_form(request, item)
    try:
        completed = await mfa.confirm_enrolment(request.app[sessionmaker_key], request.app[keyring_key], item, code)
    except (mfa.WrongCode, TooManyAttempts) as exc:
        return _refused(request, "mfa_enrol.html", item, exc, enrolment=await _enrolment(request, item))
    context = {"codes": completed.recovery_codes, "next": completed.next_url}
    response = render("mfa_recovery.html", request, context)
    response.headers["Cache-Control"] = "no-store"
    return _signed_in(request, response, completed)


# --- one's password ---------------------------------------------------------------------------------------


async def account_page(request: web.Request) -> web.StreamResponse:
    await require_staff(request)
    return render("account.html", request, {"errors": {}, "changed": request.query.get("changed") == "1"})


async def password_submit(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    form = await checked_form(request, session)
    values = {field: form.get(field, "") for field in PASSWORD_FIELDS}
    typed = {field: value if isinstance(value, str) else "" for field, value in values.items()}
    try:
        secret = await staff_admin.change_password(request.app[sessionmaker_key], session.staff.id, **typed)
    except InvalidInput as exc:
        return render("account.html", request, {"errors": exc.fields, "changed": False}, status=400)
    location = request.app.router["account"].url_for().with_query(changed="1")
    response = see_other(str(location))
    _set_cookie(request, response, STAFF_COOKIE, secret)
    return response
