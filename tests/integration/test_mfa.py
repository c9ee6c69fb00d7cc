"""Staff MFA through the real pages: a password alone opens nothing, enrolment, codes, recovery codes, limits."""

from __future__ import annotations

import re
import time
from typing import Any

import aiohttp
import pyotp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.identity import STAFF_COOKIE
from server.keys import sessionmaker_key, settings_key
from server.mfa import MAX_ATTEMPTS, MFA_COOKIE
from server.models import AuditEvent, MfaRecoveryCode, Role, Staff, StaffMfa
from tests.helpers.factories import PASSWORD, make_staff
from tests.helpers.web import MakeClient, csrf_from

MFA_ON = {"mfa_roles": ("operator", "supervisor", "coordinator")}
SECRET = re.compile(r'<code class="secret" id="secret">([A-Z2-7]+)</code>')
CODES = re.compile(r"<li><code>([a-z0-9-]+)</code></li>")


async def password_step(client: TestClient[Any, Any], staff: Staff) -> aiohttp.ClientResponse:
    page = await client.get("/login")
    token = csrf_from(await page.text())
    data = {"email": staff.email, "password": PASSWORD, "csrf_token": token, "next": "/console"}
    return await client.post("/login", data=data, allow_redirects=False)


async def post_code(client: TestClient[Any, Any], path: str, code: str) -> aiohttp.ClientResponse:
    page = await client.get(path)
    assert page.status == 200, await page.text()
    return await client.post(
        path, data={"code": code, "csrf_token": csrf_from(await page.text())}, allow_redirects=False
    )


async def enrol(client: TestClient[Any, Any], staff: Staff) -> tuple[pyotp.TOTP, list[str]]:
    """Password, then the enrolment page's secret, confirmed with a code of the previous time step."""
    assert (await password_step(client, staff)).headers["Location"] == "/login/enrol"
    page = await client.get("/login/enrol")
    match = SECRET.search(await page.text())
    assert match
    totp = pyotp.TOTP(match.group(1))
    done = await post_code(client, "/login/enrol", totp.at(time.time() - 30))
    assert done.status == 200
    assert STAFF_COOKIE in done.cookies
    return totp, CODES.findall(await done.text())


async def logout(client: TestClient[Any, Any]) -> None:
    console = await client.get("/console")
    await client.post("/logout", data={"csrf_token": csrf_from(await console.text())})


async def opens_console(client: TestClient[Any, Any]) -> bool:
    return (await client.get("/console", allow_redirects=False)).status == 200


async def test_password_alone_never_opens_the_console_when_mfa_is_required(make_client: MakeClient) -> None:
    client = await make_client(**MFA_ON)
    staff = await make_staff(client.app)
    response = await password_step(client, staff)
    assert response.status == 303 and response.headers["Location"] == "/login/enrol"
    session_cookie = response.cookies.get(STAFF_COOKIE)
    assert session_cookie is None or session_cookie.value == ""  # no session (an old one is even removed)
    pending = response.cookies[MFA_COOKIE]
    assert pending["path"] == "/login" and pending["httponly"]
    assert not await opens_console(client)
    # Nor does the pending login's value presented as a session cookie, to a page or to a socket.
    client.session.cookie_jar.update_cookies({STAFF_COOKIE: pending.value})
    assert not await opens_console(client)
    origin = client.app[settings_key].public_url
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.session.ws_connect(client.make_url("/ws"), headers={"Origin": origin})
    assert refused.value.status == 401


async def test_a_role_outside_mfa_roles_logs_in_with_its_password(make_client: MakeClient) -> None:
    client = await make_client(mfa_roles=("coordinator",))
    staff = await make_staff(client.app, role=Role.OPERATOR)
    assert (await password_step(client, staff)).headers["Location"] == "/console"
    assert await opens_console(client)


def wrong_code(totp: pyotp.TOTP) -> str:
    """A code that no time step near now has."""
    near = {totp.at(time.time() + 30 * k) for k in range(-2, 3)}
    return next(code for code in ("123456", "654321", "111111", "999999", "000000", "246810") if code not in near)


async def test_enrolment_then_login_with_a_code(make_client: MakeClient) -> None:
    client = await make_client(**MFA_ON)
    staff = await make_staff(client.app)
    assert (await password_step(client, staff)).status == 303
    page = await client.get("/login/enrol")
    html = await page.text()
    qr = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "href" not in qr and "http" not in qr  # drawn here, nothing fetched from elsewhere
    match = SECRET.search(html)
    assert match
    totp = pyotp.TOTP(match.group(1))
    wrong = await post_code(client, "/login/enrol", wrong_code(totp))
    assert wrong.status == 400 and 'role="alert"' in await wrong.text()
    assert not await opens_console(client)
    done = await post_code(client, "/login/enrol", totp.at(time.time() - 30))
    assert done.status == 200 and done.headers["Cache-Control"] == "no-store"
    codes = CODES.findall(await done.text())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert await opens_console(client)
    async with client.app[sessionmaker_key]() as db:
        row = await db.get(StaffMfa, staff.id)
    assert row is not None and row.confirmed_at is not None
    assert totp.secret not in row.sealed_secret  # sealed, not in clear

    await logout(client)
    assert (await password_step(client, staff)).headers["Location"] == "/login/code"
    assert not await opens_console(client)
    ok = await post_code(client, "/login/code", totp.at(time.time()))
    assert ok.status == 303 and ok.headers["Location"] == "/console"
    assert await opens_console(client)


async def test_a_code_cannot_be_replayed(make_client: MakeClient) -> None:
    client = await make_client(**MFA_ON)
    staff = await make_staff(client.app)
    totp, _codes = await enrol(client, staff)
    await logout(client)
    code = totp.at(time.time())
    await password_step(client, staff)
    assert (await post_code(client, "/login/code", code)).status == 303
    await logout(client)
    await password_step(client, staff)
    again = await post_code(client, "/login/code", code)
    assert again.status == 400 and not await opens_console(client)
    # The enrolment code (the previous step) is older still: refused too.
    older = await post_code(client, "/login/code", totp.at(time.time() - 30))
    assert older.status == 400 and not await opens_console(client)


async def test_a_recovery_code_works_once(make_client: MakeClient) -> None:
    client = await make_client(**MFA_ON)
    staff = await make_staff(client.app)
    _totp, codes = await enrol(client, staff)
    async with client.app[sessionmaker_key]() as db:
        stored = (await db.scalars(select(MfaRecoveryCode.code_hash))).all()
    assert len(stored) == 10 and not set(codes) & set(stored)
    await logout(client)
    await password_step(client, staff)
    used = await post_code(client, "/login/code", codes[3].upper().replace("-", " "))
    assert used.status == 303 and await opens_console(client)
    await logout(client)
    await password_step(client, staff)
    assert (await post_code(client, "/login/code", codes[3])).status == 400
    assert not await opens_console(client)


async def test_wrong_codes_are_limited(make_client: MakeClient) -> None:
    client = await make_client(**MFA_ON)
    staff = await make_staff(client.app)
    totp, _codes = await enrol(client, staff)
    await logout(client)
    await password_step(client, staff)
    wrong = wrong_code(totp)
    for _ in range(MAX_ATTEMPTS - 1):
        assert (await post_code(client, "/login/code", wrong)).status == 400
    last = await post_code(client, "/login/code", wrong)
    assert last.status == 429
    # The pending login is over: the right code no longer helps, the password is needed again.
    gone = await client.get("/login/code", allow_redirects=False)
    assert gone.status == 303 and gone.headers["Location"] == "/login"
    assert not await opens_console(client)


async def test_coordinator_reset_is_audited_and_forces_re_enrolment(make_client: MakeClient) -> None:
    client = await make_client(mfa_roles=("operator",))
    operator = await make_staff(client.app)
    await enrol(client, operator)
    await logout(client)
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    await password_step(client, coordinator)
    page = await client.get("/staff")
    assert page.status == 200
    reset = await client.post(
        f"/staff/{operator.id}/mfa-reset", data={"csrf_token": csrf_from(await page.text())}, allow_redirects=False
    )
    assert reset.status == 303
    async with client.app[sessionmaker_key]() as db:
        assert await db.get(StaffMfa, operator.id) is None
        actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == operator.id))).all()
    assert "staff_mfa_reset" in actions
    await logout(client)
    assert (await password_step(client, operator)).headers["Location"] == "/login/enrol"
