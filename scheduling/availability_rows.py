"""The queries behind :mod:`scheduling.availability`: who may be booked, their weekly hours, overrides, bookings
and team meetings, as plain values keyed by operator id.

They run on every check of a requested slot, so they are cheap to issue: column selects (not entities), built
once with bound parameters (:func:`_statement`) and run on the session's connection (Core, no ORM bookkeeping).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Executable,
    Integer,
    Numeric,
    Row,
    Select,
    SQLColumnExpression,
    String,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from scheduling.series import occurrences
from scheduling.slots import to_utc
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

Range = tuple[time, time]
Weekly = dict[int, list[Range]]
# Any: these hand-built statements and unions mix columns of several tables, and their rows are read by position
Statement = Select[*tuple[Any, ...]]
Rows = Sequence[Row[*tuple[Any, ...]]]
Columns = Sequence[Any]  # a row, or a slice of one
Absences = dict[str, dict[date, list[Range | None]]]  # None: the whole day
Extra = dict[str, dict[date, list[Range]]]
_K = TypeVar("_K")
_V = TypeVar("_V")


class Operator(NamedTuple):
    id: str
    daily_cap: int | None
    busy_seconds: int | None = None  # over the horizon, summed by the database (None: not asked)
    invited: bool = False  # invited to some team meeting (only known when busy_seconds was asked)


def _disciplines(service: Service) -> set[str]:
    return {d.strip().casefold() for d in service.disciplines.split(",") if d.strip()}


async def _run(db: AsyncSession, name: str, **params: object) -> Rows:
    connection = await db.connection()
    result = await connection.execute(_statement(name, connection.dialect.name), params)
    return result.all()


@functools.cache
def _statement(name: str, dialect: str) -> Executable:
    """The statement ``name``, built once per dialect (building and hashing a statement costs more than running
    these small queries)."""
    if name == "operators":
        return _operators(dialect, summed=False)
    if name == "rules":  # opening ranges (day NULL) and closure days (weekday NULL) in one round trip
        hours = OpeningHours
        opening = select(hours.weekday, hours.opens, hours.closes, cast(null(), Closure.day.type).label("day")).where(
            hours.service_id == bindparam("service_id")
        )
        closed = select(
            cast(null(), Integer), cast(null(), hours.opens.type), cast(null(), hours.closes.type), Closure.day
        ).where(
            or_(Closure.service_id == bindparam("service_id"), Closure.service_id.is_(None)),
            Closure.day.between(bindparam("first"), bindparam("last")),
        )
        return union_all(opening, closed)
    if name == "service_rules":  # the service (by slug or id) and its "rules" rows, joined: one round trip
        hours, service = OpeningHours, Service.__table__
        opening = select(
            hours.service_id, hours.weekday, hours.opens, hours.closes, cast(null(), Closure.day.type).label("day")
        )
        closed = select(
            Closure.service_id,
            cast(null(), Integer),
            cast(null(), hours.opens.type),
            cast(null(), hours.closes.type),
            Closure.day,
        ).where(Closure.day.between(bindparam("first"), bindparam("last")))
        rules = union_all(opening, closed).subquery("rules")
        key = bindparam("key", type_=String)
        return (
            select(*service.columns, rules.c.weekday, rules.c.opens, rules.c.closes, rules.c.day)
            .outerjoin(rules, or_(rules.c.service_id == service.c.id, rules.c.service_id.is_(None)))
            .where(or_(service.c.slug == key, service.c.id == key))
        )
    if name == "hours":  # weekly ranges, overrides (day set) and bookings (starts_at set) in one round trip
        return union_all(*_hours(lambda column: _among_ids(column, dialect)))
    if name == "operators_day":  # the eligible operators (summed) and their "hours" rows, in one round trip
        operators = _operators(dialect, summed=True)
        # Hours rows padded with the operator columns, typed in the first branch (the results are read with its
        # types); operator rows padded with the hours columns. The hours are those of every active operator
        # (matching ``operator_id``): the discipline is checked in Python, as for the operator rows.
        weekly, *others = _hours(lambda column: column.in_(select(Staff.id).where(*_wanted_staff())))
        types = (Staff.discipline.type, Staff.daily_cap.type, Numeric(), Boolean())  # discipline .. invited
        padding = [cast(null(), type_) for type_ in types]
        hours_width = len(weekly.selected_columns)
        return union_all(
            weekly.add_columns(*padding),
            *(branch.add_columns(*[null()] * len(padding)) for branch in others),
            operators.order_by(None).with_only_columns(
                operators.selected_columns[0], *[null()] * (hours_width - 1), *operators.selected_columns[1:]
            ),
        )
    if name == "bookings":
        return select(Booking.operator_id, Booking.starts_at, Booking.blocked_until).where(
            _among_ids(Booking.operator_id, dialect), *_active()
        )
    raise KeyError(name)


def _among_ids(column: InstrumentedAttribute[str], dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the ``ids`` parameter. PostgreSQL takes the list as one array parameter, so the SQL
    text (and its prepared statement) stays the same for any number of ids; elsewhere an expanding IN."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(String)))
    return column.in_(bindparam("ids", expanding=True))


def _hours(among: Callable[[InstrumentedAttribute[str]], ColumnElement[bool]]) -> list[Statement]:
    """The branches of the "hours" union, for the staff ``among`` selects: (staff id, weekday, day, kind, starts,
    ends, starts_at, blocked_until), with weekly ranges (day NULL), overrides (day set) and active bookings
    (starts_at set)."""
    row, moment = AvailabilityOverride, Booking.starts_at.type
    weekly = select(
        Availability.staff_id,
        Availability.weekday,
        cast(null(), row.day.type).label("day"),
        cast(null(), row.kind.type).label("kind"),
        Availability.starts,
        Availability.ends,
        cast(null(), moment).label("starts_at"),
        cast(null(), moment).label("blocked_until"),
    ).where(among(Availability.staff_id))
    changes = select(
        row.staff_id, cast(null(), Integer), row.day, row.kind, row.starts, row.ends, null(), null()
    ).where(among(row.staff_id), row.day.between(bindparam("first"), bindparam("last")))
    busy = select(
        Booking.operator_id, null(), null(), null(), null(), null(), Booking.starts_at, Booking.blocked_until
    ).where(among(Booking.operator_id), *_active())
    return [weekly, changes, busy]


def _operators(dialect: str, *, summed: bool) -> Statement:
    """Eligible staff rows (``operator_id`` None: all); ``summed`` adds booked seconds (in the ``horizon_since``,
    ``horizon_until`` window) and an invited flag."""
    columns: list[SQLColumnExpression[object]] = [Staff.id, Staff.discipline, Staff.daily_cap]
    if summed:
        seconds = select(func.sum(_whole_seconds(dialect))).where(Booking.operator_id == Staff.id, *_active("horizon_"))
        columns += [seconds.scalar_subquery(), exists().where(SeriesInvitee.staff_id == Staff.id)]
    return select(*columns).where(*_wanted_staff()).order_by(Staff.id)


def _wanted_staff() -> tuple[ColumnElement[bool], ...]:
    """Active operators (only the ``operator_id`` parameter, unless it is NULL); their disciplines are checked in
    Python (case-insensitive, against the service's list)."""
    chosen = or_(bindparam("operator_id", type_=String) == None, Staff.id == bindparam("operator_id"))  # noqa: E711
    return Staff.active.is_(True), Staff.role == Role.OPERATOR, chosen


def _active(window: str = "") -> tuple[ColumnElement[bool], ...]:
    """Active bookings blocking time in [``<window>since``, ``<window>until``), but the one being moved
    (``ignore``)."""
    return (
        Booking.status == BookingStatus.ACTIVE,
        Booking.blocked_until > bindparam(f"{window}since"),
        Booking.starts_at < bindparam(f"{window}until"),
        Booking.id != bindparam("ignore"),
    )


async def service_days(db: AsyncSession, service_id: str, first: date, last: date) -> tuple[Weekly, frozenset[date]]:
    """The service's opening ranges per weekday (empty when it has no rows), and the closure rows of the service
    or of all services between ``first`` and ``last``."""
    return _days(await _run(db, "rules", service_id=service_id, first=first, last=last))


async def eligible_operators(db: AsyncSession, service: Service, operator_id: str | None) -> list[Operator]:
    """Active operators of the service's disciplines (only ``operator_id``, if given), by id."""
    wanted = _disciplines(service)
    found = await _run(db, "operators", operator_id=operator_id)
    return [Operator(row[0], row[2]) for row in found if not wanted or row[1].strip().casefold() in wanted]


async def operators_of_day(
    db: AsyncSession,
    service: Service,
    operator_id: str | None,
    day: date,
    horizon: tuple[date, date],
    ignore: str | None,
) -> tuple[list[Operator], OperatorRows]:
    """What checking one slot on the local ``day`` needs, in one round trip: the eligible operators (as
    :func:`eligible_operators`) with their booked seconds over the ``horizon`` days and whether they are invited to
    team meetings, and their :func:`operator_rows` of that day."""
    wanted = _disciplines(service)
    since, until = _window(day, day)
    horizon_since, horizon_until = _window(*horizon)
    params = dict(first=day, last=day, since=since, until=until, horizon_since=horizon_since)
    found = await _run(
        db, "operators_day", **params, horizon_until=horizon_until, operator_id=operator_id, ignore=ignore or ""
    )
    operators, hours = [], []
    for row in found:
        if row[8] is None:
            hours.append(row[:8])
        elif not wanted or row[8].strip().casefold() in wanted:
            operators.append(Operator(row[0], row[9], int(row[10] or 0), bool(row[11])))
    ids = {op.id for op in operators}
    operators.sort(key=lambda op: op.id)
    return operators, _operator_rows(row for row in hours if row[0] in ids)


async def service_with_days(
    db: AsyncSession, slug_or_id: str, first: date, last: date
) -> tuple[Service, Weekly, frozenset[date]] | None:
    """:func:`service_days` together with the service's own row (its columns by name), found by slug or id, in
    one round trip; None when there is no such service."""
    found = await _run(db, "service_rules", key=slug_or_id, first=first, last=last)
    if not found:
        return None
    width = len(Service.__table__.columns)
    service = dict(found[0]._mapping)
    for name in ("weekday", "opens", "closes", "day"):
        service.pop(name)
    return (Service(**service), *_days(row[width:] for row in found))


def _days(found: Iterable[Columns]) -> tuple[Weekly, frozenset[date]]:
    """Opening ranges per weekday and closure days from "rules" rows (weekday, opens, closes, day)."""
    opening: Weekly = defaultdict(list)
    closed = set()
    for weekday, opens, closes, day in found:
        if day is not None:
            closed.add(day)
        elif weekday is not None:
            opening[weekday].append((opens, closes))
    return {weekday: sorted(ranges) for weekday, ranges in opening.items()}, frozenset(closed)


class OperatorRows(NamedTuple):
    weekly: dict[str, Weekly]  # weekly ranges per operator and weekday
    absences: Absences  # None: the whole day (also when only one end is set)
    extra: Extra
    bookings: list[tuple[str, datetime, datetime]]  # (operator, starts_at, blocked_until) of active bookings


async def operator_rows(
    db: AsyncSession, ids: Sequence[str], first: date, last: date, ignore: str | None
) -> OperatorRows:
    """The operators' weekly ranges, their absences and extra ranges per day from ``first`` to ``last``, and
    their active bookings (any service, but ``ignore``) that touch those local days: one round trip."""
    if not ids:
        return OperatorRows({}, {}, {}, [])
    since, until = _window(first, last)
    found = await _run(
        db, "hours", ids=list(ids), first=first, last=last, since=since, until=until, ignore=ignore or ""
    )
    return _operator_rows(found)


def _operator_rows(found: Iterable[Columns]) -> OperatorRows:
    """OperatorRows from "hours" rows."""
    weekly: dict[str, Weekly] = defaultdict(lambda: defaultdict(list))
    absences: Absences = defaultdict(lambda: defaultdict(list))
    extra: Extra = defaultdict(lambda: defaultdict(list))
    booked = []
    for staff_id, weekday, day, kind, starts, ends, starts_at, blocked_until in found:
        span = (starts, ends) if starts is not None and ends is not None else None
        if starts_at is not None:
            booked.append((staff_id, starts_at, blocked_until))
        elif day is None:
            weekly[staff_id][weekday].append((starts, ends))
        elif kind is OverrideKind.ABSENCE:
            absences[staff_id][day].append(span)
        elif span is not None:
            extra[staff_id][day].append(span)
    return OperatorRows(_plain(weekly), _plain(absences), _plain(extra), booked)


def _plain(nested: dict[str, dict[_K, _V]]) -> dict[str, dict[_K, _V]]:
    return {key: dict(inner) for key, inner in nested.items()}


async def bookings(
    db: AsyncSession, ids: Sequence[str], first: date, last: date, ignore: str | None
) -> list[tuple[str, datetime, datetime]]:
    """Active bookings of these operators (any service) that touch the local days ``first`` .. ``last``."""
    if not ids:
        return []
    since, until = _window(first, last)
    found = await _run(db, "bookings", ids=list(ids), since=since, until=until, ignore=ignore or "")
    return [(operator, starts_at, blocked_until) for operator, starts_at, blocked_until in found]


def _whole_seconds(dialect: str) -> ColumnElement[int]:
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


def _window(first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC instants that begin the local day ``first`` and the day after ``last``: the queries take what
    overlaps that span (a booking that starts the evening before and runs past midnight included)."""
    return to_utc(first, time(0)), to_utc(last + timedelta(days=1), time(0))


async def meetings(
    db: AsyncSession, ids: Sequence[str], first: date, last: date
) -> dict[str, list[tuple[datetime, datetime]]]:
    """The team-meeting occurrences (skips and moves applied) each operator is invited to, as busy time."""
    if not ids:
        return {}
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
