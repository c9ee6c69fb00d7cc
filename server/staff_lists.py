"""Staff as pages list them: everyone by name (for names on a case page), the active staff (to invite to a
meeting or a room), and the names behind some ids. Nothing here is audited: it is the service's own staff list,
no citizen's data."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.models import Staff

Sessionmaker = async_sessionmaker[AsyncSession]


async def everyone(sessionmaker: Sessionmaker) -> list[Staff]:
    """Every member, active or not, by name."""
    async with sessionmaker() as db:
        return list(await db.scalars(select(Staff).order_by(Staff.name)))


async def active(sessionmaker: Sessionmaker) -> list[Staff]:
    """The active members, by name."""
    async with sessionmaker() as db:
        return list(await db.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.name)))


async def names(sessionmaker: Sessionmaker, ids: Collection[str]) -> dict[str, str]:
    """Staff id -> name, for those of ``ids`` that exist (no query for none)."""
    if not ids:
        return {}
    async with sessionmaker() as db:
        rows = await db.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids)))
        return {row.id: row.name for row in rows}


async def member(sessionmaker: Sessionmaker, staff_id: str) -> Staff | None:
    """One member by id, or None."""
    async with sessionmaker() as db:
        return await db.get(Staff, staff_id)
