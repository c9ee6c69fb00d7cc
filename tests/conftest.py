"""Shared fixtures: settings and an in-process app per test, on SQLite and on PostgreSQL.

Tests that take ``client`` or ``make_client`` run twice: on a fresh SQLite file and on a fresh PostgreSQL
database. Without a reachable PostgreSQL the second run is skipped, except when ASCOLTO_REQUIRE_SERVICES=1 (as in
CI), where it fails.
"""

# ruff: noqa: E402 (the helpers are registered for assert rewriting before they are imported)

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

# The helpers' asserts are reported like the tests' own (before anything imports them).
pytest.register_assert_rewrite("tests.helpers")

from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient

from app import create_app
from server.logs import AccessLogger
from server.settings import Settings
from tests.helpers.ports import free_port
from tests.helpers.services import REQUIRE_SERVICES, fresh_postgres_database
from tests.helpers.web import MakeClient


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
        return
    async with fresh_postgres_database(require=REQUIRE_SERVICES) as url:
        yield url


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        port = overrides.pop("port", None) or free_port()
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "data_dir": tmp_path / "data",
            "public_url": f"http://127.0.0.1:{port}",
            "log_json": False,
            "mfa_roles": (),  # tests log in with a password; MFA has its own tests
        }
        values.update(overrides)
        return Settings(**values).validated()

    return make


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings], database_url: str) -> MakeClient:
    """``await make_client(**setting_overrides)``: a started in-process server and a client for it."""

    async def make(**overrides: Any) -> TestClient[Any, Any]:
        overrides.setdefault("database_url", database_url)
        settings = make_settings(**overrides)
        server = TestServer(create_app(settings), port=settings.port)
        # The production access logger, so tests see what production would log.
        await server.start_server(access_log_class=AccessLogger)
        return await aiohttp_client(server)

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client()
