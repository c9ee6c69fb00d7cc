"""Database engine, sessions and migrations (SQLite in WAL mode by default, PostgreSQL at scale)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import AsyncIterator, Mapping
from itertools import groupby
from pathlib import Path
from typing import cast

from aiohttp import web
from alembic import command
from alembic.config import Config
from sqlalchemy import ColumnDefault, Connection, Executable, Table, bindparam, event, insert, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool
from sqlalchemy.sql.dml import UpdateBase

from server.keys import engine_key, sessionmaker_key, settings_key
from server.models import Base
from server.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted and overwritten content is zeroed, not left in free space
    cursor.close()


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _private_sqlite_files(settings: Settings, url: str) -> None:
    """The data folder 0700, the SQLite file and its companions 0600 (owner only). The database file is made here,
    before SQLite opens it, so that SQLite gives its -wal and -shm files the same mode; files already there (an
    older install) are narrowed."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(settings.data_dir, PRIVATE_DIR)
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.chmod(companion, PRIVATE_FILE)


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.sqlalchemy_url
    # Database errors must not carry personal data into the logs: keep bound parameters out of their messages.
    if url.startswith("sqlite"):
        _private_sqlite_files(settings, url)
        engine = create_async_engine(url, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A pool smaller than the usual number of concurrent requests would open and close a connection for each
    # request above it (with its TLS attempt, authentication and type introspection).
    size = settings.database_pool_size
    return create_async_engine(url, pool_pre_ping=True, pool_size=size, max_overflow=size, hide_parameters=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# A data-modifying statement (built once, its bound parameters not named ``r<n>_...``) and its parameters, written
# with the rows of :func:`insert_now` and atomically with them.
Along = tuple[UpdateBase, Mapping[str, object]]


async def insert_now(db: AsyncSession, *objects: Base, along: Along | None = None) -> None:
    """INSERT the rows of new model instances now, with Core statements on the session's connection and no unit
    of work (which costs more than the statements on a hot path such as booking). On PostgreSQL all the rows go
    in one statement, all but the last as data-modifying CTEs (its foreign-key checks run at the end of the
    statement, so the order within it does not matter); elsewhere one executemany INSERT per run of same-table,
    same-columns instances, in the order given. Pending ORM changes are flushed first, so the rows these refer
    to exist.

    ``along``: one more statement (e.g. an upsert whose constraint may refuse the whole write): a CTE of the one
    statement on PostgreSQL, run first elsewhere (so that it takes SQLite's write lock before the INSERTs).

    The instances stay transient: readable (with the Python-side defaults of the columns they did not set, such
    as their id), not tracked by the session."""
    await db.flush()
    connection = await db.connection()
    rows = [_row(obj) for obj in objects]
    if not rows:
        if along is not None:
            await connection.execute(along[0], dict(along[1]))
        return
    if connection.dialect.name == "postgresql":
        shape = tuple((table, tuple(values)) for table, values in rows)
        params = {f"r{n}_{key}": value for n, (_, values) in enumerate(rows) for key, value in values.items()}
        if along is not None:
            params.update(along[1])
        await connection.execute(_one_statement(shape, along[0] if along is not None else None), params)
        return
    if along is not None:
        await connection.execute(along[0], dict(along[1]))
    for (table, _), run in groupby(rows, key=lambda row: (row[0], tuple(row[1]))):
        await connection.execute(insert(table), [values for _, values in run])


@functools.lru_cache(maxsize=64)
def _one_statement(shape: tuple[tuple[Table, tuple[str, ...]], ...], along: UpdateBase | None = None) -> Executable:
    """One INSERT statement for rows of these tables and columns (parameters ``r<row>_<column>``), built once per
    shape: all but the last row as data-modifying CTEs, and ``along`` as one more."""
    *first, last = (
        insert(table).values({key: bindparam(f"r{n}_{key}", type_=table.c[key].type) for key in keys})
        for n, (table, keys) in enumerate(shape)
    )
    ctes = [statement.cte(f"insert_{n}") for n, statement in enumerate(first)]
    if along is not None:
        ctes.append(along.cte("along"))
    return last.add_cte(*ctes)


def _row(obj: Base) -> tuple[Table, dict[str, object]]:
    """The table and column values of a new instance, its unset columns given their Python-side defaults (also
    on the instance, so that it knows its id)."""
    table, columns = _columns(type(obj))
    state = obj.__dict__
    values: dict[str, object] = {}
    for attr, key, default in columns:
        if attr not in state and default is not None:
            setattr(obj, attr, default.arg(None) if default.is_callable else default.arg)
        if attr in state:
            values[key] = state[attr]
    return table, values


@functools.cache
def _columns(model: type[Base]) -> tuple[Table, list[tuple[str, str, ColumnDefault | None]]]:
    """A model's table, and for each column its attribute name, column name and Python-side default."""
    mapper = inspect(model)
    columns = [
        (attr.key, attr.columns[0].key, d if isinstance(d := attr.columns[0].default, ColumnDefault) else None)
        for attr in mapper.column_attrs
    ]
    return cast(Table, mapper.local_table), columns


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync_conn: command.upgrade(_alembic_config(sync_conn), "head"))


async def migrate_as_owner(settings: Settings, engine: AsyncEngine) -> None:
    """Migrate as the role that owns the schema: with ``database_owner_url`` when it is set (the server then works
    as the less privileged role of ``database_url``, which has no DDL, see docs/deployment.md), else with
    ``engine``. A server whose schema is already up to date needs no DDL to start either way."""
    owner_url = settings.database_owner_url
    if not owner_url:
        await migrate(engine)
        return
    owner = create_async_engine(owner_url, poolclass=NullPool, hide_parameters=True)
    try:
        await migrate(owner)
    finally:
        await owner.dispose()


async def scrub(engine: AsyncEngine | async_sessionmaker[AsyncSession]) -> None:
    """After personal data was deleted or overwritten (purge, anonymisation): on SQLite, move the write-ahead log
    into the database file and truncate it (``PRAGMA wal_checkpoint(TRUNCATE)``), so that the old versions of the
    pages, which still hold the data, are gone from the disk too; ``secure_delete`` (set on every connection) has
    already zeroed the deleted content in the pages themselves. Call it after the transaction committed.

    On PostgreSQL nothing is done here: dead row versions stay in the table files until VACUUM reuses them
    (autovacuum) and in the WAL and backups until those are recycled (see docs/deployment.md)."""
    bind = engine if isinstance(engine, AsyncEngine) else engine.kw["bind"]
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return
    async with bind.connect() as conn:
        result = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    if result[0]:  # busy: (busy, log frames, checkpointed frames)
        log.warning("the write-ahead log could not be truncated now (busy); the next checkpoint will")


async def database_ok(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        log.exception("database check failed")
        return False
    return True


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: open the engine, migrate, share a sessionmaker; dispose at shutdown."""
    engine = create_engine(app[settings_key])
    await migrate_as_owner(app[settings_key], engine)
    app[engine_key] = engine
    app[sessionmaker_key] = make_sessionmaker(engine)
    yield
    await engine.dispose()
