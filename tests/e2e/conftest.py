"""Browser tests: real Chromium (Debian's) driven by Playwright, against an in-process server on a real port.

They run on SQLite only. Without Chromium they are skipped, except when ASCOLTO_REQUIRE_SERVICES=1 (as in CI),
where they fail.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.browser import CHROMIUM, HAVE_CHROMIUM, PASSWORD, LiveServer, NewContext, chromium
from tests.helpers.factories import make_staff
from tests.helpers.services import REQUIRE_SERVICES
from tests.helpers.web import MakeClient

DEBUG = os.environ.get("ASCOLTO_E2E_DEBUG") == "1"


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """Browser tests run on SQLite only (the database layer is covered by the other tests on both)."""
    yield f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        if REQUIRE_SERVICES:
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    async with chromium() as instance:
        yield instance


@pytest.fixture
async def live_server(make_client: MakeClient) -> LiveServer:
    client = await make_client()
    staff = await make_staff(client.app, password=PASSWORD, name="Dott.ssa Rossi")
    url = str(client.make_url("")).rstrip("/")
    return LiveServer(client=client, url=url, email=staff.email, password=PASSWORD)


@pytest.fixture
async def new_context(browser: Any, live_server: LiveServer) -> AsyncIterator[NewContext]:
    """``await new_context(**options)``: a fresh browser context (its own cookies) for one participant."""
    contexts: list[Any] = []

    async def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        options.setdefault("locale", "it-IT")
        context = await browser.new_context(**options)
        await context.grant_permissions(["camera", "microphone"], origin=live_server.url)
        context.set_default_timeout(15_000)
        if DEBUG:
            label = f"page{len(contexts)}"
            context.on("console", lambda message: print(label, message.type, message.text))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()
