"""Transport: the page after login is always on this site, cookies are Secure and HSTS is sent over HTTPS,
and the Server header names no software."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.identity import CITIZEN_COOKIE, STAFF_COOKIE
from tests.helpers.factories import PASSWORD, make_consultation, make_staff
from tests.helpers.web import MakeClient, csrf_from
from web.guard import LOGIN_CSRF_COOKIE

HTTPS = "https://ascolto.example"
ATTACKS = [
    "/\t/evil.example",
    "/\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "http:/evil.example",
    " //evil.example",
    "/console\r\nSet-Cookie: a=b",
    "/console\nX: y",
    "/%0d%0aX: y",  # harmless: stays a percent-encoded path
    "javascript:alert(1)",
    "/" + "a" * 600,
]


async def _post_login(client: TestClient[Any, Any], email: str, password: str, **extra: str) -> Any:
    token = csrf_from(await (await client.get("/login")).text())
    data = {"email": email, "password": password, "csrf_token": token, **extra}
    # Sent by hand: over the test's plain HTTP a Secure cookie would not go back on its own.
    headers = {"Cookie": f"{LOGIN_CSRF_COOKIE}={token}"}
    return await client.post("/login", data=data, headers=headers, allow_redirects=False)


@pytest.mark.parametrize("target", ATTACKS)
async def test_login_next_attacks_land_on_a_same_site_path_and_never_fail(
    client: TestClient[Any, Any], target: str
) -> None:
    staff = await make_staff(client.app)
    response = await _post_login(client, staff.email, PASSWORD, next=target)
    assert response.status == 303
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location
    assert location == "/console" or location == "/%0D%0AX:%20y"  # yarl's encoding of the harmless one
    form = await client.get("/login", params={"next": target})
    assert form.status == 200
    assert "evil" not in await form.text()


async def test_a_same_site_next_is_kept(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    response = await _post_login(client, staff.email, PASSWORD, next="/console/consultations/abc?tab=notes")
    assert response.headers["Location"] == "/console/consultations/abc?tab=notes"


async def test_cookies_are_secure_when_the_public_url_is_https(make_client: MakeClient) -> None:
    client = await make_client(public_url=HTTPS)
    form = await client.get("/login", params={"lang": "en"})
    assert form.cookies[LOGIN_CSRF_COOKIE]["secure"]
    assert form.cookies["lang"]["secure"]
    staff = await make_staff(client.app)
    login = await _post_login(client, staff.email, PASSWORD)
    assert login.status == 303
    assert login.cookies[STAFF_COOKIE]["secure"] and login.cookies[STAFF_COOKIE]["httponly"]
    new = await make_consultation(client.app, staff)
    joined = await client.get(f"/join/{new.token}", allow_redirects=False)
    assert joined.cookies[CITIZEN_COOKIE]["secure"]


async def test_cookies_are_not_secure_over_plain_http_by_default(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    login = await _post_login(client, staff.email, PASSWORD)
    assert not login.cookies[STAFF_COOKIE]["secure"]


async def test_hsts_is_sent_when_the_site_is_https(make_client: MakeClient) -> None:
    client = await make_client(public_url=HTTPS)
    for path in ("/login", "/no/such/page", "/static/css/base.css"):
        response = await client.get(path)
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


async def test_hsts_is_not_sent_over_plain_http(client: TestClient[Any, Any]) -> None:
    for path in ("/login", "/no/such/page"):
        assert "Strict-Transport-Security" not in (await client.get(path)).headers


def _names_no_software(headers: Any) -> bool:
    server = headers.get("Server", "")
    return "aiohttp" not in server.lower() and "python" not in server.lower()


async def test_the_server_header_names_no_software(client: TestClient[Any, Any]) -> None:
    assert _names_no_software((await client.get("/login")).headers)  # a page
    assert _names_no_software((await client.get("/no/such/page")).headers)  # 404
    assert _names_no_software((await client.delete("/login")).headers)  # 405
    too_big = await client.post("/login", data={"x": "x" * (512 * 1024)})
    assert too_big.status == 413 and _names_no_software(too_big.headers)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # a WebSocket handshake refused
        await client.ws_connect("/ws")
    assert refused.value.status == 403  # no Origin
    assert refused.value.headers is not None and _names_no_software(refused.value.headers)
