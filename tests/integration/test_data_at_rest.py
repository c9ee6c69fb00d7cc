"""Data at rest on the embedded SQLite database: what anonymisation and the retention purge remove is gone from the
database file and its write-ahead log (``secure_delete`` and a truncating checkpoint), and the data folder and the
database files are the owner's only (0700 and 0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient

from app import create_app
from server import cases
from server.cases import rights
from server.cases.retention import purge_once
from server.db import create_engine, database_ok
from server.keys import sessionmaker_key, settings_key
from server.models import Role, utcnow
from server.settings import Settings
from tests.helpers.factories import CASE_NOTE, citizen_case, make_staff

NAME, EMAIL = b"Maria Bianchi", b"maria@example.org"


async def sqlite_client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient[Any, Any]:
    """The app on its default database: ``ascolto.sqlite3`` in the data folder."""
    server = TestServer(create_app(settings), port=settings.port)
    return await aiohttp_client(server)


def database_files(settings: Settings) -> dict[str, bytes]:
    base = settings.data_dir / "ascolto.sqlite3"
    found = (base.with_name(base.name + suffix) for suffix in ("", "-wal"))
    return {path.name: path.read_bytes() for path in found if path.exists()}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_anonymised_citizen_data_is_gone_from_the_sqlite_files(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    client = await sqlite_client(aiohttp_client, settings)
    _, case = await citizen_case(client.app)
    files = database_files(settings)
    assert any(NAME in data for data in files.values())  # the check below can see it
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    await rights.anonymise_citizen(cases.context(client.app), coordinator, case.id)
    for name, data in database_files(settings).items():
        assert NAME not in data and EMAIL not in data, name
        assert CASE_NOTE.encode() not in data, name


async def test_the_retention_purge_leaves_nothing_in_the_sqlite_files(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(retention_days=30)
    client = await sqlite_client(aiohttp_client, settings)
    await citizen_case(client.app)
    later = utcnow() + timedelta(days=31)
    assert await purge_once(client.app[sessionmaker_key], client.app[settings_key], later) == 1
    for name, data in database_files(settings).items():
        assert NAME not in data and EMAIL not in data, name


async def test_the_data_folder_and_the_sqlite_files_are_the_owners_only(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    client = await sqlite_client(aiohttp_client, settings)
    await citizen_case(client.app)
    data = settings.data_dir
    assert mode(data) == 0o700
    for name in ("ascolto.sqlite3", "ascolto.sqlite3-wal", "ascolto.sqlite3-shm", "notes.key"):
        assert mode(data / name) == 0o600, name


async def test_loose_modes_of_an_older_install_are_narrowed_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    for name in ("ascolto.sqlite3", "ascolto.sqlite3-wal", "ascolto.sqlite3-shm"):
        (data / name).touch(mode=0o644)
    os.chmod(data, 0o755)
    engine = create_engine(Settings(data_dir=data))
    try:
        assert await database_ok(engine)
    finally:
        await engine.dispose()
    assert mode(data) == 0o700
    assert {mode(data / name) for name in os.listdir(data)} == {0o600}
