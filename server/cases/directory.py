"""The directory of local services referrals go to (the coordinator keeps it): list, add, edit, deactivate.

Each change is checked against :mod:`server.cases.policy` (``Action.DIRECTORY``) and audited in the same
transaction. Services are never deleted: an outcome may point at one, so a service that closes is deactivated
(it leaves the referral list and stays readable on old cases).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import actors, audit
from server.cases.policy import Action, allowed
from server.errors import Forbidden, InvalidInput, NotFound
from server.models import LocalService, Staff

Sessionmaker = async_sessionmaker[AsyncSession]
LIMITS = {"name": 200, "kind": 100, "area": 100, "contacts": 500, "hours": 300}  # the columns' lengths
REQUIRED = ("name", "contacts")  # a referral is no use without a way to reach the service


@dataclass(frozen=True)
class Fields:
    name: str
    kind: str
    area: str
    contacts: str
    hours: str


def parse(values: Mapping[str, object]) -> Fields:
    """The typed fields, trimmed; InvalidInput with every field to fix (``required``, ``too_long``)."""
    clean = {name: " ".join(str(values.get(name) or "").split()) for name in LIMITS}
    problems = {}
    for name, limit in LIMITS.items():
        if name in REQUIRED and not clean[name]:
            problems[name] = "required"
        elif len(clean[name]) > limit:
            problems[name] = "too_long"
    if problems:
        raise InvalidInput("the local service is not complete", problems)
    return Fields(**clean)


def _check(staff: Staff) -> None:
    if not allowed(staff.role, Action.DIRECTORY, "other"):
        raise Forbidden("the directory of local services is the coordinator's")


async def services(sessionmaker: Sessionmaker, *, active_only: bool = True) -> list[LocalService]:
    """The directory by name (active services only, for the referral list; all of them for the coordinator)."""
    query = select(LocalService).order_by(LocalService.name)
    if active_only:
        query = query.where(LocalService.active.is_(True))
    async with sessionmaker() as db:
        return list(await db.scalars(query))


async def add(sessionmaker: Sessionmaker, staff: Staff, fields: Fields) -> LocalService:
    _check(staff)
    async with sessionmaker.begin() as db:
        service = LocalService(**vars(fields))
        db.add(service)
        await db.flush()
        audit.record(db, actors.staff(staff.id), "create", "local_service", service.id)
    return service


async def update(sessionmaker: Sessionmaker, staff: Staff, service_id: str, fields: Fields) -> LocalService:
    _check(staff)
    async with sessionmaker.begin() as db:
        service = await _get(db, service_id)
        for name, value in vars(fields).items():
            setattr(service, name, value)
        audit.record(db, actors.staff(staff.id), "update", "local_service", service.id)
    return service


async def set_active(sessionmaker: Sessionmaker, staff: Staff, service_id: str, active: bool) -> LocalService:
    """Deactivate (or bring back) a service: it leaves (or rejoins) the referral list."""
    _check(staff)
    async with sessionmaker.begin() as db:
        service = await _get(db, service_id)
        service.active = active
        audit.record(db, actors.staff(staff.id), "activate" if active else "deactivate", "local_service", service.id)
    return service


async def _get(db: AsyncSession, service_id: str) -> LocalService:
    service = await db.get(LocalService, service_id)
    if service is None:
        raise NotFound("no such local service")
    return service
