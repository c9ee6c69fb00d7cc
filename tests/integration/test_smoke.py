from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.helpers.factories import make_consultation, make_staff
from tests.helpers.web import login


async def test_healthz(client: TestClient[Any, Any]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}


async def test_login_console_and_join(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    await login(client, staff)
    new = await make_consultation(client.app, staff)
    response = await client.get(f"/join/{new.token}", allow_redirects=False)
    assert response.status == 303
