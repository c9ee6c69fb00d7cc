"""Page guards: who is logged in (and in which role), and CSRF protection for every state-changing form: the staff's
(the session's token), the login form's and the citizens' public forms' (double-submit cookies)."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from server import identity
from server.auth import SessionInfo
from server.crypto import new_secret, same
from server.errors import Forbidden
from server.keys import settings_key
from server.models import Role
from server.origins import origin_allowed
from web.keys import login_csrf_key, page_staff_key

LOGIN_CSRF_COOKIE = "ascolto_csrf"
PUBLIC_CSRF_COOKIE = "ascolto_public_csrf"

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]  # a posted form, as aiohttp parses it


class CsrfError(web.HTTPForbidden):
    pass


async def require_staff(request: web.Request) -> SessionInfo:
    """The live staff session, or a redirect to the login page."""
    session = await identity.staff_session(request)
    if session is None:
        login = request.app.router["login"].url_for().with_query(next=request.path)
        raise web.HTTPSeeOther(location=str(login))
    request[page_staff_key] = session
    return session


async def require_role(request: web.Request, *roles: Role) -> SessionInfo:
    """The staff session, if its role is one of ``roles``; else the calm 403 page."""
    session = await require_staff(request)
    if session.staff.role not in roles:
        raise Forbidden("this page is for another role")
    return session


def check_origin(request: web.Request) -> None:
    """Browsers send Origin on POST: when it is there it must be ours (defence in depth beside the token).

    Under ``Referrer-Policy: no-referrer`` browsers send ``Origin: null`` even for our own forms; then the
    browser-set ``Sec-Fetch-Site`` header (no page can forge it) must say the post came from this site.
    """
    origin = request.headers.get("Origin")
    if origin is None or origin_allowed(request.app[settings_key], origin):
        return
    if origin == "null" and request.headers.get("Sec-Fetch-Site") == "same-origin":
        return
    raise CsrfError(text="cross-site request refused")


async def checked_form(request: web.Request, session: SessionInfo) -> Form:
    """The posted form, after checking its CSRF token against the session's."""
    check_origin(request)
    form = await request.post()
    token = form.get("csrf_token")
    if not isinstance(token, str) or not same(token, session.csrf_token):
        raise CsrfError(text="the form expired: go back, reload the page and try again")
    return form


def issue_login_csrf(request: web.Request, response_cookies: dict[str, str]) -> str:
    """The login form's double-submit token: reuse the cookie's, or make one."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_secret()
    request[login_csrf_key] = token
    response_cookies[LOGIN_CSRF_COOKIE] = token
    return token


async def checked_double_submit_form(request: web.Request, cookie_name: str) -> Form:
    """A form posted before any session (login, public booking): its token must match the cookie's."""
    check_origin(request)
    form = await request.post()
    token = form.get("csrf_token")
    cookie = request.cookies.get(cookie_name)
    if not cookie or not isinstance(token, str) or not same(token, cookie):
        raise CsrfError(text="the form expired: go back, reload the page and try again")
    request[login_csrf_key] = cookie
    return form


async def checked_login_form(request: web.Request) -> Form:
    return await checked_double_submit_form(request, LOGIN_CSRF_COOKIE)


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


async def checked_public_form(request: web.Request) -> Form:
    return await checked_double_submit_form(request, PUBLIC_CSRF_COOKIE)
