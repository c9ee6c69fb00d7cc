"""The least-privileged PostgreSQL setup of ``deploy/postgres/roles.sql``: migrations run as the owner role, the
server works as the application role, which appends to the audit trail and reads it but cannot change, empty,
alter or drop it (nor its triggers), has no DDL at all, and does the ordinary work."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app import create_app
from server import audit
from server.keys import sessionmaker_key
from server.models import AuditEvent, Consultation
from server.settings import Settings
from tests.helpers.factories import make_consultation, make_staff
from tests.helpers.ports import free_port
from tests.helpers.services import REQUIRE_SERVICES, fresh_postgres_database, postgres_url

ROLES_SQL = Path(__file__).parents[2] / "deploy" / "postgres" / "roles.sql"

# What the application role must not be able to do to the audit trail, or to the schema.
FORBIDDEN = [
    "UPDATE audit_event SET action = 'forged'",
    "DELETE FROM audit_event",
    "TRUNCATE audit_event",
    "ALTER TABLE audit_event ADD COLUMN forged integer",
    "ALTER TABLE audit_event DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_event_no_change ON audit_event",
    "DROP TRIGGER audit_event_no_truncate ON audit_event",
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RETURN NULL; END $$",
    "DROP FUNCTION audit_event_append_only() CASCADE",
    "DROP TABLE audit_event",
    "CREATE TABLE forged (x integer)",
]


@dataclass(frozen=True)
class Roles:
    admin_url: str  # SQLAlchemy URLs of the fresh database: as the superuser, the owner, the application
    owner_url: str
    app_url: str
    owner: str
    app: str


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


async def apply_roles_sql(roles: Roles) -> None:
    """Run deploy/postgres/roles.sql as the superuser, with its psql variables filled in."""
    script = ROLES_SQL.read_text().replace(":'owner'", f"'{roles.owner}'").replace(":'app'", f"'{roles.app}'")
    admin = await asyncpg.connect(dsn(roles.admin_url))
    try:
        await admin.execute(script)
    finally:
        await admin.close()


@pytest.fixture
async def roles() -> AsyncIterator[Roles]:
    """A fresh database set up by roles.sql (before its first migration) with two new roles, dropped afterwards."""
    suffix = secrets.token_hex(4)
    owner, app = f"ascolto_owner_{suffix}", f"ascolto_app_{suffix}"
    try:
        async with fresh_postgres_database(require=REQUIRE_SERVICES) as url:
            found = Roles(url, _as(url, owner), _as(url, app), owner, app)
            await apply_roles_sql(found)
            yield found
    finally:
        admin = await asyncpg.connect(dsn(postgres_url()))
        try:
            for role in (app, owner):
                await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await admin.close()


async def test_the_application_role_cannot_change_or_drop_the_audit_trail(
    roles: Roles, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    port = free_port()
    settings = Settings(
        host="127.0.0.1",
        port=port,
        data_dir=tmp_path / "data",
        public_url=f"http://127.0.0.1:{port}",
        log_json=False,
        mfa_roles=(),
        database_url=roles.app_url,
        database_owner_url=roles.owner_url,
    ).validated()
    # The server starts as the application role and migrates as the owner, which owns what the migrations make.
    client: TestClient[Any, Any] = await aiohttp_client(TestServer(create_app(settings), port=port))
    await apply_roles_sql(roles)  # the second run, after the first migration
    admin = await asyncpg.connect(dsn(roles.admin_url))
    try:
        owners = await admin.fetch("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
        assert [row[0] for row in owners] == [roles.owner]
    finally:
        await admin.close()

    # Ordinary work, as the application role: staff, a consultation, audit events appended and read.
    operator = await make_staff(client.app)
    new = await make_consultation(client.app, operator)
    async with client.app[sessionmaker_key].begin() as db:
        db.add(audit.event("system", "probe", "consultation", new.consultation.id))
    async with client.app[sessionmaker_key]() as db:
        assert await db.get(Consultation, new.consultation.id) is not None
        assert await db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "probe")) == 1

    app = await asyncpg.connect(dsn(roles.app_url))
    try:
        assert await app.fetchval("SELECT current_user") == roles.app
        inserted = "INSERT INTO audit_event (actor, action, object_type, object_id, at) VALUES ($1, $2, $3, $4, now())"
        await app.execute(inserted, "system", "probe", "case", "-")
        for statement in FORBIDDEN:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(statement)
    finally:
        await app.close()

    # The owner could (which is why the server must not work as the owner): checked, then rolled back.
    owner_connection = await asyncpg.connect(dsn(roles.owner_url))
    try:
        transaction = owner_connection.transaction()
        await transaction.start()
        await owner_connection.execute("DROP TRIGGER audit_event_no_change ON audit_event")
        await transaction.rollback()
    finally:
        await owner_connection.close()
