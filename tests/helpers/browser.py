"""Chromium for the browser tests, the benchmarks and the fuzzer: where it is and how it is launched; a server and a
browser context outside pytest (benchmarks, screenshots, ``make fuzz``: a free port, a temporary SQLite data dir);
the types of the browser tests' fixtures (``live_server``, ``new_context``, in ``tests/e2e/conftest.py``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from app import create_app
from server.models import Staff
from server.settings import Settings
from tests.helpers.factories import make_staff
from tests.helpers.ports import free_port

CHROMIUM = os.environ.get("ASCOLTO_CHROMIUM", "/usr/bin/chromium")
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
PASSWORD = "a long and private passphrase"


@dataclass
class LiveServer:
    """The ``live_server`` fixture: an in-process server on a real port, and a staff member to log in as."""

    client: TestClient[Any, Any]
    url: str  # the origin, e.g. http://127.0.0.1:43123
    email: str
    password: str


NewContext = Callable[..., Awaitable[Any]]  # the new_context fixture: ``await new_context(**options)``


@dataclass
class Running:
    url: str
    app: web.Application
    staff: Staff
    password: str

    @property
    def email(self) -> str:
        return self.staff.email


@asynccontextmanager
async def running_server(**overrides: Any) -> AsyncIterator[Running]:
    with tempfile.TemporaryDirectory(prefix="ascolto-bench-") as tmp:
        port = free_port()
        settings = Settings(
            host="127.0.0.1",
            port=port,
            data_dir=Path(tmp),
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}",
            public_url=f"http://127.0.0.1:{port}",
            log_json=False,
            log_level="WARNING",
            **{"mfa_roles": (), **overrides},  # browsers log in with a password (MFA has its own tests)
        ).validated()
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            staff = await make_staff(app, password=PASSWORD)
            yield Running(url=settings.base_url, app=app, staff=staff, password=PASSWORD)
        finally:
            await runner.cleanup()


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def new_context(browser: Any, server: Running, **options: Any) -> Any:
    options.setdefault("viewport", {"width": 1280, "height": 900})
    options.setdefault("locale", "it-IT")
    context = await browser.new_context(**options)
    await context.grant_permissions(["camera", "microphone"], origin=server.url)
    context.set_default_timeout(15_000)
    return context
