"""The services as the coordinator keeps them: their booking rules, weekly opening hours and closures.

Every write is one short transaction with its audit event; nothing here knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import TypedDict

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit import record
from server.errors import NotFound
from server.models import Closure, OpeningHours, Service

Sessionmaker = async_sessionmaker[AsyncSession]
Hours = dict[int, list[tuple[time, time]]]  # weekday (0 = Monday) -> local wall-clock ranges
DEFAULT_HOURS: Hours = {day: [(time(9, 30), time(18, 0))] for day in range(6)}  # Mon-Sat


class Rules(TypedDict):
    """A service's booking rules, as the coordinator's form sets them (the columns of ``Service``)."""

    session_minutes: int
    buffer_minutes: int
    min_notice_minutes: int
    horizon_days: int
    modes: str  # comma-separated BookingMode values
    disciplines: str  # comma-separated
    holiday_subdivision: str
    bookable_online: bool


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
    hours: Hours
    closures: list[Closure]


async def list_services(sessionmaker: Sessionmaker, *, bookable_online_only: bool = False) -> list[Service]:
    """The services by name (only those citizens may book online, if asked)."""
    query = select(Service).order_by(Service.name)
    if bookable_online_only:
        query = query.where(Service.bookable_online.is_(True))
    async with sessionmaker() as db:
        return list(await db.scalars(query))


async def create_service(sessionmaker: Sessionmaker, *, slug: str, name: str, actor: str) -> Service:
    service = Service(slug=slug, name=name)
    async with sessionmaker.begin() as db:
        db.add(service)
        await db.flush()
        for weekday, ranges in DEFAULT_HOURS.items():
            db.add_all(OpeningHours(service_id=service.id, weekday=weekday, opens=a, closes=b) for a, b in ranges)
        record(db, actor, "create", "service", service.id)
    return service


async def slug_taken(sessionmaker: Sessionmaker, slug: str) -> bool:
    async with sessionmaker() as db:
        return await db.scalar(select(Service.id).where(Service.slug == slug)) is not None


async def _service(db: AsyncSession, service_id: str) -> Service:
    service = await db.get(Service, service_id)
    if service is None:
        raise NotFound("no such service")
    return service


async def service_settings(sessionmaker: Sessionmaker, service_id: str) -> ServiceSettings:
    async with sessionmaker() as db:
        service = await _service(db, service_id)
        rows = await db.scalars(
            select(OpeningHours).where(OpeningHours.service_id == service_id).order_by(OpeningHours.opens)
        )
        hours: Hours = {day: [] for day in range(7)}
        for row in rows:
            hours[row.weekday].append((row.opens, row.closes))
        closures = await db.scalars(select(Closure).where(Closure.service_id == service_id).order_by(Closure.day))
        return ServiceSettings(service, hours, list(closures))


async def save_rules(sessionmaker: Sessionmaker, service_id: str, rules: Rules, actor: str) -> None:
    async with sessionmaker.begin() as db:
        service = await _service(db, service_id)
        for field, value in rules.items():
            setattr(service, field, value)
        record(db, actor, "update_rules", "service", service_id)


async def save_hours(sessionmaker: Sessionmaker, service_id: str, hours: Hours, actor: str) -> None:
    async with sessionmaker.begin() as db:
        await _service(db, service_id)
        await db.execute(delete(OpeningHours).where(OpeningHours.service_id == service_id))
        for weekday, ranges in hours.items():
            db.add_all(OpeningHours(service_id=service_id, weekday=weekday, opens=a, closes=b) for a, b in ranges)
        record(db, actor, "update_hours", "service", service_id)


async def add_closure(sessionmaker: Sessionmaker, service_id: str, day: date, reason: str, actor: str) -> None:
    async with sessionmaker.begin() as db:
        await _service(db, service_id)
        exists = await db.scalar(select(Closure.id).where(Closure.service_id == service_id, Closure.day == day))
        if exists is None:
            db.add(Closure(service_id=service_id, day=day, reason=reason))
            record(db, actor, "add_closure", "service", service_id)


async def remove_closure(sessionmaker: Sessionmaker, service_id: str, closure_id: int, actor: str) -> None:
    async with sessionmaker.begin() as db:
        await db.execute(delete(Closure).where(Closure.id == closure_id, Closure.service_id == service_id))
        record(db, actor, "remove_closure", "service", service_id)
