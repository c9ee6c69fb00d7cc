"""Staff account actions through the real pages: one's password; the coordinator's role change, disable,
second-factor reset; the last coordinator kept; each audited, each ending the member's sessions."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server.identity import STAFF_COOKIE
from server.keys import sessionmaker_key
from server.models import AuditEvent, Role, Staff, StaffSession
from tests.helpers.factories import PASSWORD, make_staff
from tests.helpers.web import csrf_from, login

NEW_PASSWORD = "a brand new long password"


async def sessions_of(client: TestClient[Any, Any], staff: Staff) -> int:
    async with client.app[sessionmaker_key]() as db:
        count = await db.scalar(select(func.count()).select_from(StaffSession).where(StaffSession.staff_id == staff.id))
    return int(count or 0)


async def actions_on(client: TestClient[Any, Any], staff: Staff) -> list[str]:
    async with client.app[sessionmaker_key]() as db:
        return list((await db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == staff.id))).all())


async def second_browser(client: TestClient[Any, Any], staff: Staff) -> str:
    """Log in again (as from another device) and return that session's cookie value; the client keeps it."""
    await login(client, staff)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[STAFF_COOKIE].value
    return cookie


async def test_password_change_ends_every_other_session(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    other_device = await second_browser(client, staff)
    client.session.cookie_jar.clear()
    await login(client, staff)
    assert await sessions_of(client, staff) == 2
    page = await client.get("/account")
    token = csrf_from(await page.text())
    wrong = await client.post(
        "/account/password",
        data={"csrf_token": token, "current": "not my password", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status == 400 and 'id="current-error"' in await wrong.text()
    short = await client.post(
        "/account/password", data={"csrf_token": token, "current": PASSWORD, "new": "short", "confirm": "short"}
    )
    assert short.status == 400 and 'id="new-error"' in await short.text()
    changed = await client.post(
        "/account/password",
        data={"csrf_token": token, "current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        allow_redirects=False,
    )
    assert changed.status == 303
    assert changed.cookies[STAFF_COOKIE].value not in ("", other_device)  # this browser's session rotated
    assert await sessions_of(client, staff) == 1
    assert (await client.get("/console", allow_redirects=False)).status == 200
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({STAFF_COOKIE: other_device})
    assert (await client.get("/console", allow_redirects=False)).status == 303
    client.session.cookie_jar.clear()
    await login(client, staff, password=NEW_PASSWORD)


async def coordinator_page(client: TestClient[Any, Any]) -> tuple[Staff, str]:
    coordinator = await make_staff(client.app, role=Role.COORDINATOR, name="Giulia Ferrari")
    client.session.cookie_jar.clear()
    await login(client, coordinator)
    page = await client.get("/staff")
    assert page.status == 200
    return coordinator, csrf_from(await page.text())


async def test_role_change_and_disable_end_the_members_sessions(client: TestClient[Any, Any]) -> None:
    member = await make_staff(client.app)
    await second_browser(client, member)
    assert await sessions_of(client, member) == 1
    _coordinator, token = await coordinator_page(client)
    changed = await client.post(
        f"/staff/{member.id}/role", data={"csrf_token": token, "role": "supervisor"}, allow_redirects=False
    )
    assert changed.status == 303
    assert await sessions_of(client, member) == 0
    async with client.app[sessionmaker_key]() as db:
        assert (await db.get(Staff, member.id)).role == Role.SUPERVISOR

    client.session.cookie_jar.clear()
    await login(client, member)
    _coordinator, token = await coordinator_page(client)
    disabled = await client.post(
        f"/staff/{member.id}/active", data={"csrf_token": token, "active": "0"}, allow_redirects=False
    )
    assert disabled.status == 303
    assert await sessions_of(client, member) == 0
    async with client.app[sessionmaker_key]() as db:
        assert not (await db.get(Staff, member.id)).active
    assert {"staff_role_supervisor", "staff_disable"} <= set(await actions_on(client, member))
    bad = await client.post(f"/staff/{member.id}/role", data={"csrf_token": token, "role": "admin"})
    assert bad.status == 400 and f'id="role-{member.id}-error"' in await bad.text()


async def test_the_last_coordinator_cannot_demote_or_disable_themselves(client: TestClient[Any, Any]) -> None:
    coordinator, token = await coordinator_page(client)
    demote = await client.post(f"/staff/{coordinator.id}/role", data={"csrf_token": token, "role": "operator"})
    assert demote.status == 400 and f'id="role-{coordinator.id}-error"' in await demote.text()
    disable = await client.post(f"/staff/{coordinator.id}/active", data={"csrf_token": token, "active": "0"})
    assert disable.status == 400 and f'id="active-{coordinator.id}-error"' in await disable.text()
    async with client.app[sessionmaker_key]() as db:
        row = await db.get(Staff, coordinator.id)
    assert row is not None and row.active and row.role == Role.COORDINATOR
    assert await sessions_of(client, coordinator) == 1
    # With a second coordinator, the first may step down.
    await make_staff(client.app, role=Role.COORDINATOR)
    stepped = await client.post(
        f"/staff/{coordinator.id}/role", data={"csrf_token": token, "role": "operator"}, allow_redirects=False
    )
    assert stepped.status == 303


async def test_only_a_coordinator_manages_staff(client: TestClient[Any, Any]) -> None:
    member = await make_staff(client.app)
    operator = await make_staff(client.app)
    token = await login(client, operator)
    assert (await client.get("/staff")).status == 403
    for path, data in (("mfa-reset", {}), ("role", {"role": "coordinator"}), ("active", {"active": "0"})):
        refused = await client.post(f"/staff/{member.id}/{path}", data={"csrf_token": token, **data})
        assert refused.status == 403
    assert await actions_on(client, member) == []


async def test_staff_actions_need_the_csrf_token(client: TestClient[Any, Any]) -> None:
    member = await make_staff(client.app)
    await coordinator_page(client)
    refused = await client.post(f"/staff/{member.id}/active", data={"active": "0"})
    assert refused.status == 403
    async with client.app[sessionmaker_key]() as db:
        assert (await db.get(Staff, member.id)).active
