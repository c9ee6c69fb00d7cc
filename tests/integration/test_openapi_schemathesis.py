"""schemathesis against the OpenAPI document the server serves (``/api/v1/openapi.json``), over HTTP to the real
in-process server: generated valid and invalid requests for every operation, anonymous and as a logged-in
switchboard member (cookie and CSRF header). No answer is a 5xx, and every answer's status, content type and body
are the ones the document declares. Bounded and derandomized, so the run in CI is the run on a laptop.

schemathesis calls with ``requests`` (blocking), so its hypothesis run goes in a worker thread while the server
keeps serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from server.keys import settings_key
from server.models import Role
from tests.helpers.booking import booking_body, free
from tests.helpers.factories import make_operators, make_service, make_staff
from tests.helpers.web import MakeClient, login
from web.api.ratelimit import limiter_key

Client = TestClient[Any, Any]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12  # per operation, per mode, per identity


@pytest.fixture
async def api(make_client: MakeClient) -> tuple[Client, dict[str, str]]:
    """A server with a bookable service and a booking, and path parameters that exist (the service's slug, the
    booking's manage token): without them nearly every generated request would stop at a 404."""
    client = await make_client()
    client.app[limiter_key].limits = {}  # the limit (429, documented) has its own test; here it would hide the rest
    service = await make_service(client.app)
    await make_operators(client.app, 2)
    booked = await client.post("/api/v1/bookings", json=booking_body((await free(client.app, service))[0]))
    assert booked.status == 201, await booked.text()
    return client, {"slug": service.slug, "manage_token": (await booked.json())["manage_link"].rsplit("/", 1)[1]}


async def run(client: Client, known: dict[str, str], session: requests.Session, headers: dict[str, str]) -> list[str]:
    """Every operation of the served document, valid and invalid requests, with generated path parameters and with
    existing ones; the failures, as text."""
    base = client.app[settings_key].base_url
    document = await (await client.get("/api/v1/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []

    def one(operation: Any, mode: GenerationMode, path: dict[str, str] | None) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy(generation_mode=mode, path_parameters=path))
        def call(case: Any) -> None:
            response = case.call(base_url=base, session=session, headers=dict(headers))
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as failure:  # schemathesis raises a failure group: keep going, report them all
                failures.append(f"{operation.label} ({mode.value}): {failure}\n{case.as_curl_command()}")

        try:
            call()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # an operation without parameters has no invalid request

    def everything() -> None:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # the served document is valid
            operation = result.ok()
            names = {p.name for p in operation.path_parameters}
            existing = {name: known[name] for name in names} if names else None
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                one(operation, mode, None)
                if existing:
                    one(operation, mode, existing)

    await asyncio.to_thread(everything)
    return failures


async def test_anonymous_requests_get_documented_answers(api: tuple[Client, dict[str, str]]) -> None:
    client, known = api
    with requests.Session() as session:
        failures = await run(client, known, session, {})
    assert not failures, "\n\n".join(failures[:10])


async def test_staff_requests_get_documented_answers(api: tuple[Client, dict[str, str]]) -> None:
    client, known = api
    switchboard = await make_staff(client.app, role=Role.SWITCHBOARD)
    csrf = await login(client, switchboard)
    with requests.Session() as session:
        for cookie in client.session.cookie_jar:
            session.cookies.set(cookie.key, cookie.value)
        failures = await run(client, known, session, {"X-CSRF-Token": csrf})
    assert not failures, "\n\n".join(failures[:10])
