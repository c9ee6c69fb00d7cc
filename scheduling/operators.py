"""Operators' availability as people edit it: weekly hours, date overrides (absence, extra hours) and the daily
cap. (:mod:`scheduling.availability` reads it back to compute free slots.)

Every write is one short transaction with its audit event; nothing here knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.services import Hours
from server.audit import record
from server.errors import NotFound
from server.models import Availability, AvailabilityOverride, OverrideKind, Role, Staff

Sessionmaker = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class OperatorSettings:
    staff: Staff
    weekly: Hours
    overrides: list[AvailabilityOverride]


async def list_operators(sessionmaker: Sessionmaker) -> list[Staff]:
    """The active operators, by name."""
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(Staff).where(Staff.role == Role.OPERATOR, Staff.active.is_(True)).order_by(Staff.name)
        )
        return list(rows)


async def operator_settings(sessionmaker: Sessionmaker, staff_id: str) -> OperatorSettings:
    async with sessionmaker() as db:
        staff = await db.get(Staff, staff_id)
        if staff is None:
            raise NotFound("no such operator")
        rows = await db.scalars(
            select(Availability).where(Availability.staff_id == staff_id).order_by(Availability.starts)
        )
        weekly: Hours = {day: [] for day in range(7)}
        for row in rows:
            weekly[row.weekday].append((row.starts, row.ends))
        overrides = await db.scalars(
            select(AvailabilityOverride)
            .where(AvailabilityOverride.staff_id == staff_id)
            .order_by(AvailabilityOverride.day, AvailabilityOverride.starts)
        )
        return OperatorSettings(staff, weekly, list(overrides))


async def save_weekly(
    sessionmaker: Sessionmaker, staff_id: str, weekly: Hours, daily_cap: int | None, actor: str
) -> None:
    async with sessionmaker.begin() as db:
        staff = await db.get(Staff, staff_id)
        if staff is None:
            raise NotFound("no such operator")
        staff.daily_cap = daily_cap
        await db.execute(delete(Availability).where(Availability.staff_id == staff_id))
        for weekday, ranges in weekly.items():
            db.add_all(Availability(staff_id=staff_id, weekday=weekday, starts=a, ends=b) for a, b in ranges)
        record(db, actor, "update_availability", "staff", staff_id)


async def add_override(
    sessionmaker: Sessionmaker,
    staff_id: str,
    *,
    day: date,
    kind: OverrideKind,
    span: tuple[time, time] | None,
    actor: str,
) -> None:
    starts, ends = span if span else (None, None)
    async with sessionmaker.begin() as db:
        db.add(AvailabilityOverride(staff_id=staff_id, day=day, kind=kind, starts=starts, ends=ends))
        record(db, actor, "add_override", "staff", staff_id)


async def remove_override(sessionmaker: Sessionmaker, staff_id: str, override_id: int, actor: str) -> None:
    async with sessionmaker.begin() as db:
        await db.execute(
            delete(AvailabilityOverride).where(
                AvailabilityOverride.id == override_id, AvailabilityOverride.staff_id == staff_id
            )
        )
        record(db, actor, "remove_override", "staff", staff_id)
