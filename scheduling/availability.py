"""Loads what :func:`scheduling.slots.free_slots` needs from the database, and calls it.

Everything is read in one short session with explicit queries (no relationship loads), limited to the local days
the horizon can reach, so the cost does not grow with the history of bookings. Rules the database leaves implicit
are made explicit here, once:

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
from typing import Any, TypeVar

import holidays
from sqlalchemy import ColumnElement, Integer, case, cast, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.series import occurrences
from scheduling.slots import OperatorSchedule, Ranges, ServiceRules, Slot, free_slots, local_day, to_utc
from server.errors import NotFound
from server.models import Booking, BookingStatus, Role, Service, Staff
from server.models.scheduling import (
    Availability,
    AvailabilityOverride,
    Closure,
    MeetingSeries,
    OpeningHours,
    OverrideKind,
    SeriesException,
    SeriesInvitee,
)

DEFAULT_OPENING: dict[int, Ranges] = {weekday: ((time(9, 30), time(18, 0)),) for weekday in range(6)}

_Range = tuple[time, time]
_Weekly = dict[int, list[_Range]]
_K = TypeVar("_K")
_V = TypeVar("_V")


async def load_service(sessionmaker: async_sessionmaker[AsyncSession], slug_or_id: str) -> Service:
    """The service with that slug (as in URLs) or id; :class:`NotFound` otherwise."""
    async with sessionmaker.begin() as db:
        service = await db.scalar(select(Service).where(or_(Service.slug == slug_or_id, Service.id == slug_or_id)))
    if service is None:
        raise NotFound(f"no service {slug_or_id!r}")
    return service


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
        operators = await _eligible_operators(db, service, operator_id)
        ids = [op.id for op in operators]
        weekly = await _weekly(db, ids)
        absences, extra = await _overrides(db, ids, first, last)
        bookings = await _bookings(db, ids, first, last, ignore_booking_id)
        meetings = await _meetings(db, ids, first, last)
    return rules, _schedules(rules, operators, weekly, (absences, extra), bookings, meetings, {})


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
    first, last = _horizon(service, now)
    async with sessionmaker.begin() as db:
        rules = await _load_rules(db, service, day, day)
        operators = await _eligible_operators(db, service, operator_id)
        ids = [op.id for op in operators]
        weekly = await _weekly(db, ids)
        overrides = await _overrides(db, ids, day, day)
        meetings = await _meetings(db, ids, first, last)
        summed = [i for i in ids if i not in meetings]
        bookings = await _bookings(db, [i for i in ids if i in meetings], first, last, ignore_booking_id)
        bookings += await _bookings(db, summed, day, day, ignore_booking_id)
        totals = {i: 0 for i in summed} | await _booked_seconds(db, summed, first, last, ignore_booking_id)
    return rules, _schedules(rules, operators, weekly, overrides, bookings, meetings, totals)


def _horizon(service: Service, now: datetime) -> tuple[date, date]:
    first = local_day(now)
    return first, first + timedelta(days=max(service.horizon_days, 0))


def _schedules(
    rules: ServiceRules,
    operators: Sequence[Staff],
    weekly: dict[str, _Weekly],
    overrides: tuple[dict[str, dict[date, list[tuple[time, time] | None]]], dict[str, dict[date, list[_Range]]]],
    bookings: Sequence[tuple[str, datetime, datetime]],
    meetings: dict[str, list[tuple[datetime, datetime]]],
    totals: dict[str, int],
) -> list[OperatorSchedule]:
    """The operators' schedules; ``totals``: the busy seconds over the horizon of those whose ``busy`` is partial."""
    absences, extra = overrides
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


def public_holidays(subdivision: str, first: date, last: date) -> frozenset[date]:
    """Italian public holidays between ``first`` and ``last`` (inclusive), with the subdivision's patron day."""
    years = (_holidays_of(subdivision, year) for year in range(first.year, last.year + 1))
    return frozenset(day for days in years for day in days if first <= day <= last)


@functools.lru_cache(maxsize=128)
def _holidays_of(subdivision: str, year: int) -> frozenset[date]:
    """One year's holidays: fixed by law, and building the calendar costs milliseconds, so it is built once."""
    return frozenset(holidays.Italy(subdiv=subdivision or None, years=year))


async def _load_rules(db: AsyncSession, service: Service, first: date, last: date) -> ServiceRules:
    rows = await db.execute(
        select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
        .where(OpeningHours.service_id == service.id)
        .order_by(OpeningHours.weekday, OpeningHours.opens)
    )
    opening: _Weekly = defaultdict(list)
    for weekday, opens, closes in rows:
        opening[weekday].append((opens, closes))
    extra_closures = await db.scalars(
        select(Closure.day).where(
            or_(Closure.service_id == service.id, Closure.service_id.is_(None)), Closure.day.between(first, last)
        )
    )
    return ServiceRules(
        session_minutes=service.session_minutes,
        buffer_minutes=service.buffer_minutes,
        min_notice_minutes=service.min_notice_minutes,
        horizon_days=service.horizon_days,
        opening=dict(opening) if opening else DEFAULT_OPENING,
        closures=public_holidays(service.holiday_subdivision, first, last) | frozenset(extra_closures),
    )


def _disciplines(service: Service) -> set[str]:
    return {d.strip().casefold() for d in service.disciplines.split(",") if d.strip()}


async def _eligible_operators(db: AsyncSession, service: Service, operator_id: str | None) -> list[Staff]:
    query = select(Staff).where(Staff.active.is_(True), Staff.role == Role.OPERATOR).order_by(Staff.id)
    if operator_id is not None:
        query = query.where(Staff.id == operator_id)
    wanted = _disciplines(service)
    return [op for op in await db.scalars(query) if not wanted or op.discipline.strip().casefold() in wanted]


async def _weekly(db: AsyncSession, ids: Sequence[str]) -> dict[str, _Weekly]:
    rows = await db.execute(
        select(Availability.staff_id, Availability.weekday, Availability.starts, Availability.ends).where(
            Availability.staff_id.in_(ids)
        )
    )
    weekly: dict[str, _Weekly] = defaultdict(lambda: defaultdict(list))
    for staff_id, weekday, starts, ends in rows:
        weekly[staff_id][weekday].append((starts, ends))
    return {staff_id: dict(days) for staff_id, days in weekly.items()}


async def _overrides(
    db: AsyncSession, ids: Sequence[str], first: date, last: date
) -> tuple[dict[str, dict[date, list[tuple[time, time] | None]]], dict[str, dict[date, list[tuple[time, time]]]]]:
    """Absences (``None``: the whole day, also when only one end is set) and extra ranges, per operator and day."""
    rows = await db.scalars(
        select(AvailabilityOverride).where(
            AvailabilityOverride.staff_id.in_(ids), AvailabilityOverride.day.between(first, last)
        )
    )
    absences: dict[str, dict[date, list[tuple[time, time] | None]]] = defaultdict(lambda: defaultdict(list))
    extra: dict[str, dict[date, list[tuple[time, time]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        span = (row.starts, row.ends) if row.starts is not None and row.ends is not None else None
        if row.kind is OverrideKind.ABSENCE:
            absences[row.staff_id][row.day].append(span)
        elif span is not None:
            extra[row.staff_id][row.day].append(span)
    return _plain(absences), _plain(extra)


def _plain(nested: dict[str, dict[_K, _V]]) -> dict[str, dict[_K, _V]]:
    return {key: dict(inner) for key, inner in nested.items()}


async def _bookings(
    db: AsyncSession, ids: Sequence[str], first: date, last: date, ignore: str | None
) -> list[tuple[str, datetime, datetime]]:
    """Active bookings of these operators (any service) that touch the local days ``first`` .. ``last``."""
    if not ids:
        return []
    rows = await db.execute(
        select(Booking.operator_id, Booking.starts_at, Booking.blocked_until).where(
            *_active_between(ids, first, last, ignore)
        )
    )
    return [(operator, starts_at, blocked_until) for operator, starts_at, blocked_until in rows]


async def _booked_seconds(
    db: AsyncSession, ids: Sequence[str], first: date, last: date, ignore: str | None
) -> dict[str, int]:
    """The busy seconds of the bookings :func:`_bookings` would load, summed per operator by the database (start
    rounded down and end up to whole seconds, as :mod:`scheduling.slots` does)."""
    if not ids:
        return {}
    seconds = _whole_seconds(db.get_bind().dialect.name)
    rows = await db.execute(
        select(Booking.operator_id, func.sum(seconds))
        .where(*_active_between(ids, first, last, ignore))
        .group_by(Booking.operator_id)
    )
    return {operator: int(total or 0) for operator, total in rows}


def _whole_seconds(dialect: str) -> ColumnElement[Any]:
    """SQL for a booking's blocked seconds: ceil(blocked_until) - floor(starts_at), in epoch seconds."""
    if dialect == "postgresql":
        return func.ceil(func.extract("epoch", Booking.blocked_until)) - func.floor(
            func.extract("epoch", Booking.starts_at)
        )
    # SQLite: julianday() counts days to the millisecond; CAST truncates (no math functions needed)
    ends = func.round(func.julianday(Booking.blocked_until) * 86400, 3)
    starts = func.round(func.julianday(Booking.starts_at) * 86400, 3)
    whole_end = cast(ends, Integer)
    return whole_end + case((ends > whole_end, 1), else_=0) - cast(starts, Integer)


def _active_between(ids: Sequence[str], first: date, last: date, ignore: str | None) -> list[ColumnElement[bool]]:
    since, until = _window(first, last)
    return [
        Booking.operator_id.in_(ids),
        Booking.status == BookingStatus.ACTIVE,
        Booking.blocked_until > since,
        Booking.starts_at < until,
        Booking.id != ignore if ignore is not None else true(),
    ]


def _window(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC bounds safely around the local days ``first`` .. ``last``."""
    return to_utc(first, time(0)) - timedelta(days=1), to_utc(last, time(0)) + timedelta(days=2)


async def _meetings(
    db: AsyncSession, ids: Sequence[str], first: date, last: date
) -> dict[str, list[tuple[datetime, datetime]]]:
    """The team-meeting occurrences (skips and moves applied) each operator is invited to, as busy time."""
    since, until = _window(first, last)
    invited = (
        await db.execute(
            select(SeriesInvitee.staff_id, MeetingSeries)
            .join(MeetingSeries)
            .where(SeriesInvitee.staff_id.in_(ids), MeetingSeries.starts_at < until)
        )
    ).all()
    if not invited:
        return {}
    series_ids = {row.id for _, row in invited}
    exceptions = list(await db.scalars(select(SeriesException).where(SeriesException.series_id.in_(series_ids))))
    busy: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for staff_id, row in invited:
        busy[staff_id] += [(o.starts_at, o.ends_at) for o in occurrences(row, exceptions, since, until)]
    return dict(busy)
