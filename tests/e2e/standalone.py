"""A server and a browser outside pytest (benchmarks, screenshots): a free port, a temporary SQLite data dir."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from server.app import create_app
from server.models import Staff
from server.settings import Settings
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from tests.factories import make_staff


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
            **overrides,
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
