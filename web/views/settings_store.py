"""Reads and writes behind the coordinator's and operators' settings pages (services, hours, availability, outbox).

Every write is one short transaction with its audit event; nothing here knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit import record
from server.errors import NotFound
from server.models import (
    Availability,
    AvailabilityOverride,
    Closure,
    OpeningHours,
    OutboxMessage,
    OverrideKind,
    Role,
    Service,
    Staff,
)

Maker = async_sessionmaker[AsyncSession]
Ranges = list[tuple[time, time]]
DEFAULT_HOURS: dict[int, Ranges] = {day: [(time(9, 30), time(18, 0))] for day in range(6)}  # Mon-Sat
RULE_FIELDS = (
    "session_minutes",
    "buffer_minutes",
    "min_notice_minutes",
    "horizon_days",
    "modes",
    "disciplines",
    "holiday_subdivision",
    "bookable_online",
)


@dataclass(frozen=True)
class ServiceSettings:
    service: Service
    hours: dict[int, Ranges]
    closures: list[Closure]


async def list_services(sessionmaker: Maker) -> list[Service]:
    async with sessionmaker() as db:
        return list(await db.scalars(select(Service).order_by(Service.name)))


async def create_service(sessionmaker: Maker, *, slug: str, name: str, actor: str) -> Service:
    service = Service(slug=slug, name=name)
    async with sessionmaker.begin() as db:
        db.add(service)
        await db.flush()
        for weekday, ranges in DEFAULT_HOURS.items():
            db.add_all(OpeningHours(service_id=service.id, weekday=weekday, opens=a, closes=b) for a, b in ranges)
        record(db, actor, "create", "service", service.id)
    return service


async def slug_taken(sessionmaker: Maker, slug: str) -> bool:
    async with sessionmaker() as db:
        return await db.scalar(select(Service.id).where(Service.slug == slug)) is not None


async def _service(db: AsyncSession, service_id: str) -> Service:
    service = await db.get(Service, service_id)
    if service is None:
        raise NotFound("no such service")
    return service


async def service_settings(sessionmaker: Maker, service_id: str) -> ServiceSettings:
    async with sessionmaker() as db:
        service = await _service(db, service_id)
        rows = await db.scalars(
            select(OpeningHours).where(OpeningHours.service_id == service_id).order_by(OpeningHours.opens)
        )
        hours: dict[int, Ranges] = {day: [] for day in range(7)}
        for row in rows:
            hours[row.weekday].append((row.opens, row.closes))
        closures = await db.scalars(select(Closure).where(Closure.service_id == service_id).order_by(Closure.day))
        return ServiceSettings(service, hours, list(closures))


async def save_rules(sessionmaker: Maker, service_id: str, rules: dict[str, Any], actor: str) -> None:
    async with sessionmaker.begin() as db:
        service = await _service(db, service_id)
        for field in RULE_FIELDS:
            setattr(service, field, rules[field])
        record(db, actor, "update_rules", "service", service_id)


async def save_hours(sessionmaker: Maker, service_id: str, hours: dict[int, Ranges], actor: str) -> None:
    async with sessionmaker.begin() as db:
        await _service(db, service_id)
        await db.execute(delete(OpeningHours).where(OpeningHours.service_id == service_id))
        for weekday, ranges in hours.items():
            db.add_all(OpeningHours(service_id=service_id, weekday=weekday, opens=a, closes=b) for a, b in ranges)
        record(db, actor, "update_hours", "service", service_id)


async def add_closure(sessionmaker: Maker, service_id: str, day: date, reason: str, actor: str) -> None:
    async with sessionmaker.begin() as db:
        await _service(db, service_id)
        exists = await db.scalar(select(Closure.id).where(Closure.service_id == service_id, Closure.day == day))
        if exists is None:
            db.add(Closure(service_id=service_id, day=day, reason=reason))
            record(db, actor, "add_closure", "service", service_id)


async def remove_closure(sessionmaker: Maker, service_id: str, closure_id: int, actor: str) -> None:
    async with sessionmaker.begin() as db:
        await db.execute(delete(Closure).where(Closure.id == closure_id, Closure.service_id == service_id))
        record(db, actor, "remove_closure", "service", service_id)


# Operators' availability


@dataclass(frozen=True)
class OperatorSettings:
    staff: Staff
    weekly: dict[int, Ranges]
    overrides: list[AvailabilityOverride]


async def list_operators(sessionmaker: Maker) -> list[Staff]:
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(Staff).where(Staff.role == Role.OPERATOR, Staff.active.is_(True)).order_by(Staff.name)
        )
        return list(rows)


async def operator_settings(sessionmaker: Maker, staff_id: str) -> OperatorSettings:
    async with sessionmaker() as db:
        staff = await db.get(Staff, staff_id)
        if staff is None:
            raise NotFound("no such operator")
        rows = await db.scalars(
            select(Availability).where(Availability.staff_id == staff_id).order_by(Availability.starts)
        )
        weekly: dict[int, Ranges] = {day: [] for day in range(7)}
        for row in rows:
            weekly[row.weekday].append((row.starts, row.ends))
        overrides = await db.scalars(
            select(AvailabilityOverride)
            .where(AvailabilityOverride.staff_id == staff_id)
            .order_by(AvailabilityOverride.day, AvailabilityOverride.starts)
        )
        return OperatorSettings(staff, weekly, list(overrides))


async def save_weekly(
    sessionmaker: Maker, staff_id: str, weekly: dict[int, Ranges], daily_cap: int | None, actor: str
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
    sessionmaker: Maker,
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


async def remove_override(sessionmaker: Maker, staff_id: str, override_id: int, actor: str) -> None:
    async with sessionmaker.begin() as db:
        await db.execute(
            delete(AvailabilityOverride).where(
                AvailabilityOverride.id == override_id, AvailabilityOverride.staff_id == staff_id
            )
        )
        record(db, actor, "remove_override", "staff", staff_id)


# The outbox


async def outbox_messages(sessionmaker: Maker, limit: int = 200) -> list[OutboxMessage]:
    async with sessionmaker() as db:
        rows = await db.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit))
        return list(rows)


async def read_message(sessionmaker: Maker, message_id: str, actor: str) -> OutboxMessage:
    async with sessionmaker.begin() as db:
        message = await db.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound("no such message")
        record(db, actor, "read", "outbox", message_id)
    return message
