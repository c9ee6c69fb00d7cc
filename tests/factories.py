"""Factories for test data, bound to a running app."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from server import auth, consultations
from server.consultations import NewConsultation
from server.keys import sessionmaker_key, settings_key
from server.models import Role, Staff

PASSWORD = "correct horse battery staple"


async def make_staff(
    app: web.Application,
    *,
    role: Role = Role.OPERATOR,
    email: str | None = None,
    name: str = "Dott.ssa Rossi",
    password: str = PASSWORD,
) -> Staff:
    email = email or f"staff-{secrets.token_hex(4)}@example.org"
    return await auth.create_staff(app[sessionmaker_key], email=email, name=name, role=role, password=password)


async def make_consultation(
    app: web.Application,
    operator: Staff,
    *,
    citizen_name: str = "Maria",
    starts_at: datetime | None = None,
    minutes: int | None = None,
    **fields: Any,
) -> NewConsultation:
    return await consultations.create_consultation(
        app[sessionmaker_key],
        app[settings_key],
        operator=operator,
        citizen_name=citizen_name,
        starts_at=starts_at,
        minutes=minutes,
        **fields,
    )


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def login(client: TestClient[Any, Any], staff: Staff, password: str = PASSWORD) -> str:
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
