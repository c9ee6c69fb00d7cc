"""Pages and their headers: the console, a consultation's page, security headers, static files, errors."""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.keys import keyring_key, sessionmaker_key
from server.models import OutboxMessage
from server.outbox import open_links, redact_link
from tests.helpers.factories import make_consultation, make_staff
from tests.helpers.web import login

JOIN_LINK = re.compile(r'id="join-link"[^>]*value="(http://[^"]+/join/[^"]+)"')


@pytest.mark.parametrize("path", ["/", "/login", "/call", "/healthz", "/no/such/page", "/console"])
async def test_every_response_carries_the_security_headers(client: TestClient[Any, Any], path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert "microphone=(self)" in response.headers["Permissions-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


async def test_the_operator_creates_a_consultation_and_gets_the_link(client: TestClient[Any, Any]) -> None:
    operator = await make_staff(client.app)
    csrf = await login(client, operator)
    data = {"csrf_token": csrf, "citizen_name": "Maria", "citizen_email": "maria@example.org", "citizen_phone": ""}
    response = await client.post("/console/consultations", data=data)
    assert response.status == 201
    html = await response.text()
    match = JOIN_LINK.search(html)
    assert match, "the join link is shown"
    link = match.group(1)
    assert link.startswith(f"http://127.0.0.1:{client.port}/join/")

    console = await (await client.get("/console")).text()
    assert "Maria" in console


async def test_a_bad_form_shows_what_to_fix_and_keeps_what_was_typed(client: TestClient[Any, Any]) -> None:
    operator = await make_staff(client.app)
    csrf = await login(client, operator)
    data = {"csrf_token": csrf, "citizen_name": "", "citizen_email": "maria-at-example", "citizen_phone": "0212"}
    response = await client.post("/console/consultations", data=data)
    assert response.status == 400
    html = await response.text()
    assert 'id="citizen_name" name="citizen_name"' in html
    assert html.count('aria-invalid="true"') == 2
    assert "Campo obbligatorio." in html and "Indirizzo email non valido." in html
    assert 'value="maria-at-example"' in html and 'value="0212"' in html


async def test_operators_cannot_open_each_others_consultations(client: TestClient[Any, Any]) -> None:
    owner = await make_staff(client.app)
    other = await make_staff(client.app, name="Dott. Verdi")
    new = await make_consultation(client.app, owner)
    await login(client, other)
    response = await client.get(f"/console/consultations/{new.consultation.id}")
    assert response.status == 403
    html = await response.text()
    assert "Non è possibile aprire questa pagina" in html and "Maria" not in html
    missing = await client.get("/console/consultations/does-not-exist")
    assert missing.status == 404


async def test_a_new_link_can_be_emailed_and_lands_in_the_outbox(client: TestClient[Any, Any]) -> None:
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator, citizen_email="maria@example.org")
    csrf = await login(client, operator)
    response = await client.post(f"/console/consultations/{new.consultation.id}/email", data={"csrf_token": csrf})
    assert response.status == 200
    link = JOIN_LINK.search(await response.text())
    assert link
    async with client.app[sessionmaker_key]() as db:
        mail = (await db.scalars(select(OutboxMessage))).one()
    assert mail.to_address == "maria@example.org"
    # The row holds the link redacted; the link itself is sealed in it until the email is sent (without SMTP, as
    # here, it is dropped once the email is kept: so accept both).
    assert link.group(1) not in mail.body and redact_link(link.group(1)) in mail.body
    assert open_links(client.app[keyring_key], mail) in ([(redact_link(link.group(1)), link.group(1))], [])
    # The earlier link stopped working: a new one replaced it.
    assert (await client.get(f"/join/{new.token}", allow_redirects=False)).cookies.get("ascolto_citizen") is None


async def test_static_files_are_compressed_and_cached_by_content(client: TestClient[Any, Any]) -> None:
    page = await (await client.get("/")).text()
    href = re.search(r'href="(/static/css/base\.css\?v=[0-9a-f]+)"', page)
    assert href
    response = await client.get(href.group(1), headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
    body = gzip.decompress(await response.read())
    assert b"--accent" in body
    etag = response.headers["ETag"]
    again = await client.get(href.group(1), headers={"If-None-Match": etag})
    assert again.status == 304
    assert (await client.get("/static/../server/settings.py")).status == 404


async def test_errors_are_calm_pages_or_json(client: TestClient[Any, Any]) -> None:
    page = await client.get("/no/such/page")
    assert page.status == 404
    assert "Pagina non trovata" in await page.text()
    api = await client.get("/healthz/nothing")
    assert api.status == 404
