"""The local PostgreSQL and Redis servers the tests use (never skipped when ASCOLTO_REQUIRE_SERVICES=1), and a
migrated database without an app (:func:`open_db`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import create_engine, make_sessionmaker, migrate
from server.settings import Settings

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REQUIRE_SERVICES = os.environ.get("ASCOLTO_REQUIRE_SERVICES") == "1"
Sessionmaker = async_sessionmaker[AsyncSession]


def postgres_url() -> str:
    return os.environ.get("ASCOLTO_TEST_DATABASE_URL") or DEFAULT_POSTGRES


def unavailable(what: str, error: Exception, *, require: bool) -> None:
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if require:
        pytest.fail(message + " and ASCOLTO_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@asynccontextmanager
async def fresh_postgres_database(*, require: bool) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards. Yields its SQLAlchemy URL."""
    base = make_url(postgres_url())
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"ascolto_t_{secrets.token_hex(6)}"
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc, require=require)
        raise  # unreachable: skip/fail raise
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def open_db(database_url: str, data_dir: Path) -> AsyncIterator[Sessionmaker]:
    """A sessionmaker on a migrated database (call it twice for two "processes" on one database)."""
    engine = create_engine(Settings(database_url=database_url, data_dir=data_dir))
    await migrate(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
