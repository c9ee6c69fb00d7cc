"""The in-process app over HTTP, as a browser uses it: the ``make_client`` fixture's type, CSRF tokens, logging in."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from server.models import Role, Staff
from tests.helpers.factories import PASSWORD, make_staff

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]  # the make_client fixture (tests/conftest.py)

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def login(client: Client, staff: Staff, password: str = PASSWORD) -> str:
    """Log in through the form like a browser; return the session's CSRF token."""
    page = await client.get("/login")
    token = csrf_from(await page.text())
    response = await client.post(
        "/login",
        data={"email": staff.email, "password": password, "csrf_token": token, "next": "/console"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    console = await client.get("/console")
    assert console.status == 200
    return csrf_from(await console.text())


async def coordinator_login(client: Client) -> tuple[Staff, str]:
    """A new coordinator, logged in: (the coordinator, the session's CSRF token)."""
    coordinator = await make_staff(client.app, role=Role.COORDINATOR, name="Coordinatrice")
    return coordinator, await login(client, coordinator)
