"""Loads what :func:`scheduling.slots.free_slots` needs from the database, and calls it.

Everything is read in one short session with explicit queries (no relationship loads), limited to the local days
the horizon can reach, so the cost does not grow with the history of bookings; checking one requested slot
(:func:`day_inputs`) reads only that day, so its cost does not grow with the horizon either. Rules the database
leaves implicit are made explicit here, once:

- a service with no opening-hours rows is open Monday-Saturday 9:30-18:00 (the service's real hours);
- closures are the Italian public holidays of the service's subdivision (``MI`` adds Sant'Ambrogio, 7 December)
  plus the ``Closure`` rows of that service or of all services;
- the eligible operators are the active staff with role operator whose discipline is one of the service's
  (comma-separated, case-insensitive), or every operator when the service names none;
- an operator with no weekly availability rows is available whenever the service is open (nobody has to enter
  availability just to be bookable);
- busy time is every active booking of the operator, in any service ([starts_at, blocked_until), so the buffer is
  kept), and every team meeting the operator is invited to; the daily cap counts the bookings (not the meetings)
  per Europe/Rome day.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import holidays
from sqlalchemy import Executable, String, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling import availability_rows as rows
from scheduling.availability_rows import Operator, OperatorRows, Weekly
from scheduling.slots import OperatorSchedule, Ranges, ServiceRules, Slot, free_slots, local_day
from server.errors import NotFound
from server.models import Service

DEFAULT_OPENING: dict[int, Ranges] = {weekday: ((time(9, 30), time(18, 0)),) for weekday in range(6)}


async def load_service(sessionmaker: async_sessionmaker[AsyncSession], slug_or_id: str) -> Service:
    """The service with that slug (as in URLs) or id; :class:`NotFound` otherwise."""
    async with sessionmaker.begin() as db:
        return await service_in(db, slug_or_id)


async def service_in(db: AsyncSession, slug_or_id: str) -> Service:
    """:func:`load_service` within the caller's transaction. The service is a plain copy of its row, not tracked
    by the session (read with Core, cheaper than an ORM load on the booking path): a rollback of that
    transaction (a lost race) leaves it readable."""
    connection = await db.connection()
    row = (await connection.execute(_service_statement(), {"key": slug_or_id})).first()
    if row is None:
        raise NotFound(f"no service {slug_or_id!r}")
    return Service(**row._mapping)


async def load_inputs(
    sessionmaker: async_sessionmaker[AsyncSession],
    service: Service,
    now: datetime,
    *,
    operator_id: str | None = None,
    ignore_booking_id: str | None = None,
) -> tuple[ServiceRules, list[OperatorSchedule]]:
    """The service's rules and the schedules of its eligible operators (only ``operator_id``, if given: an
    operator who is not eligible for the service then yields no schedule, hence no slots).

    ``ignore_booking_id`` leaves one booking out of busy time and caps: the one being moved, which must neither
    block its own new time nor count twice towards the cap of a day it stays on."""
    first, last = _horizon(service, now)
    async with sessionmaker.begin() as db:
        rules = await _load_rules(db, service, first, last)
        operators = await rows.eligible_operators(db, service, operator_id)
        ids = [op.id for op in operators]
        found = await rows.operator_rows(db, ids, first, last, ignore_booking_id)
        meetings = await rows.meetings(db, ids, first, last)
    return rules, _schedules(rules, operators, found, found.bookings, meetings, {})


async def load_day_inputs(
    sessionmaker: async_sessionmaker[AsyncSession],
    service: Service,
    day: date,
    now: datetime,
    *,
    operator_id: str | None = None,
    ignore_booking_id: str | None = None,
) -> tuple[ServiceRules, list[OperatorSchedule]]:
    """As :func:`load_inputs`, but enough only to compute the free slots of the local ``day`` (checking one
    requested slot): that day's closures and overrides, and the bookings around it.

    The fair-assignment order still weighs each operator's busy time over the whole horizon: it is summed by the
    database (an operator's bookings never overlap, the constraint sees to it). Operators invited to team
    meetings in the horizon get all their bookings loaded instead, since meetings may overlap bookings."""
    async with sessionmaker.begin() as db:
        return await day_inputs(db, service, day, now, operator_id=operator_id, ignore_booking_id=ignore_booking_id)


async def day_inputs(
    db: AsyncSession,
    service: Service,
    day: date,
    now: datetime,
    *,
    operator_id: str | None = None,
    ignore_booking_id: str | None = None,
    rules: ServiceRules | None = None,
) -> tuple[ServiceRules, list[OperatorSchedule]]:
    """:func:`load_day_inputs` within the caller's transaction (``rules``: the day's, when already read)."""
    first, last = _horizon(service, now)
    ignore = ignore_booking_id
    rules = rules or await _load_rules(db, service, day, day)
    operators, found = await rows.operators_of_day(db, service, operator_id, day, (first, last), ignore)
    meetings = await rows.meetings(db, [op.id for op in operators if op.invited], first, last)
    # The invited ones' busy time is not summed by the database: their bookings over the horizon replace the day's.
    bookings = [row for row in found.bookings if row[0] not in meetings]
    bookings += await rows.bookings(db, list(meetings), first, last, ignore)
    totals = {op.id: op.busy_seconds or 0 for op in operators if op.id not in meetings}
    return rules, _schedules(rules, operators, found, bookings, meetings, totals)


@functools.cache
def _service_statement() -> Executable:
    key = bindparam("key", type_=String)
    table = Service.__table__
    return select(*table.columns).where(or_(table.c.slug == key, table.c.id == key))


def _horizon(service: Service, now: datetime) -> tuple[date, date]:
    first = local_day(now)
    return first, first + timedelta(days=max(service.horizon_days, 0))


def _schedules(
    rules: ServiceRules,
    operators: Sequence[Operator],
    found: OperatorRows,
    bookings: Sequence[tuple[str, datetime, datetime]],
    meetings: dict[str, list[tuple[datetime, datetime]]],
    totals: dict[str, int],
) -> list[OperatorSchedule]:
    """The operators' schedules; ``totals``: the busy seconds over the horizon of those whose ``busy`` is partial."""
    weekly, absences, extra = found.weekly, found.absences, found.extra
    busy: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for staff_id, spans in meetings.items():
        busy[staff_id] += spans
    booked: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for operator, starts_at, blocked_until in bookings:
        busy[operator].append((starts_at, blocked_until))
        booked[operator][local_day(starts_at)] += 1
    return [
        OperatorSchedule(
            operator_id=op.id,
            weekly=weekly.get(op.id) or rules.opening,
            absences=absences.get(op.id, {}),
            extra=extra.get(op.id, {}),
            daily_cap=op.daily_cap,
            busy=busy.get(op.id, []),
            booked_per_day=dict(booked.get(op.id, {})),
            busy_seconds=totals.get(op.id),
        )
        for op in operators
    ]


async def free_slots_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    service: Service,
    now: datetime,
    *,
    operator_id: str | None = None,
    first_day: date | None = None,
    days: int | None = None,
    ignore_booking_id: str | None = None,
) -> list[Slot]:
    """The service's free slots (for one operator, if given), as :func:`scheduling.slots.free_slots` computes them;
    ``ignore_booking_id`` as in :func:`load_inputs` (for moving a booking)."""
    rules, operators = await load_inputs(
        sessionmaker, service, now, operator_id=operator_id, ignore_booking_id=ignore_booking_id
    )
    return free_slots(rules, operators, now, first_day=first_day, days=days)


@functools.lru_cache(maxsize=256)
def public_holidays(subdivision: str, first: date, last: date) -> frozenset[date]:
    """Italian public holidays between ``first`` and ``last`` (inclusive), with the subdivision's patron day."""
    years = (_holidays_of(subdivision, year) for year in range(first.year, last.year + 1))
    return frozenset(day for days in years for day in days if first <= day <= last)


@functools.lru_cache(maxsize=128)
def _holidays_of(subdivision: str, year: int) -> frozenset[date]:
    """One year's holidays: fixed by law, and building the calendar costs milliseconds, so it is built once."""
    return frozenset(holidays.country_holidays("IT", subdiv=subdivision or None, years=year))


async def service_and_rules(db: AsyncSession, slug_or_id: str, day: date) -> tuple[Service, ServiceRules]:
    """The service (as :func:`service_in`) and its rules for the local ``day``, in one round trip."""
    found = await rows.service_with_days(db, slug_or_id, day, day)
    if found is None:
        raise NotFound(f"no service {slug_or_id!r}")
    service, opening, extra_closures = found
    return service, _rules(service, opening, extra_closures, day, day)


async def _load_rules(db: AsyncSession, service: Service, first: date, last: date) -> ServiceRules:
    opening, extra_closures = await rows.service_days(db, service.id, first, last)
    return _rules(service, opening, extra_closures, first, last)


def _rules(service: Service, opening: Weekly, extra_closures: frozenset[date], first: date, last: date) -> ServiceRules:
    return ServiceRules(
        session_minutes=service.session_minutes,
        buffer_minutes=service.buffer_minutes,
        min_notice_minutes=service.min_notice_minutes,
        horizon_days=service.horizon_days,
        opening=opening or DEFAULT_OPENING,
        closures=public_holidays(service.holiday_subdivision, first, last) | extra_closures,
    )
