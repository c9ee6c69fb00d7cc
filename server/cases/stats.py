"""The service's statistics for the coordinator and the city, computed by SQL aggregation.

Every figure is a GROUP BY (or an aggregate) in the database; Python only receives the grouped counts, fills the
empty weeks and months with zero, and suppresses small counts. What is counted:

- **Sessions** (contacts): consultations starting in the period, except those whose booking was cancelled, by
  week and by month (Europe/Rome local time, computed in SQL on both databases), by service, by mode (the
  booking's; a consultation made without a booking is a video consultation) and by the booking's channel
  (``unbooked`` when made directly in the console).
- **Cases** opened in the period: by reason, by how the citizen reached the service, by current risk (self-harm
  and risk to others), and by their **latest** outcome (``none`` when no outcome is recorded yet). Cases, not
  sessions, so that a citizen seen ten times does not weigh ten times.
- **Time to first session**: from the case's first contact (``opened_at``: its first booking or consultation) to
  its first session (``first_session_at``), for cases opened in the period that had one; median and mean, in hours.
- **No-shows**: video sessions of the period whose end has passed and whose citizen never exchanged the join link
  (no ``citizen_pass`` row). Phone sessions are left out: the link says nothing about them.

Small counts: a count below ``stats_min_count`` (but above zero) is suppressed, and so is its share; when a table
shows its total and only one of its cells is suppressed, the next smallest is suppressed too, so that the hidden
one cannot be found by subtraction. Derived figures (the delays, the no-show share) are suppressed when the counts
they come from are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Executable,
    SQLColumnExpression,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import clock
from server.clock import TIMEZONE
from server.models import (
    Booking,
    BookingChannel,
    BookingMode,
    BookingStatus,
    Case,
    Channel,
    CitizenPass,
    Consultation,
    Outcome,
    OutcomeKind,
    Reason,
    RiskLevel,
    Service,
    utcnow,
)

UNBOOKED = "unbooked"
NO_OUTCOME = "none"
NO_SERVICE = ""
BOOKING_CHANNELS = ("online", "switchboard", "follow_up", UNBOOKED)


@dataclass(frozen=True)
class Period:
    """Local (Europe/Rome) days, both included."""

    first: date
    last: date

    def bounds(self) -> tuple[datetime, datetime]:
        """The UTC instants [start, end) the period covers."""
        start = clock.instant(self.first, time())
        end = clock.instant(self.last + timedelta(days=1), time())
        return start, end


@dataclass(frozen=True)
class Cell:
    key: str
    count: int | None  # None: suppressed (a small count, or one that would reveal one)
    share: float | None = None  # of the table's total, 0..1; None when suppressed or no total


@dataclass(frozen=True)
class Table:
    name: str
    cells: list[Cell]
    total: int | None  # None: suppressed

    @property
    def suppressed(self) -> bool:
        return self.total is None or any(c.count is None for c in self.cells)


@dataclass(frozen=True)
class Delay:
    cases: int | None
    median_hours: float | None
    mean_hours: float | None


@dataclass(frozen=True)
class NoShows:
    past_video_sessions: int | None
    count: int | None
    share: float | None


@dataclass(frozen=True)
class Statistics:
    period: Period
    min_count: int
    sessions_by_week: Table
    sessions_by_month: Table
    tables: list[Table] = field(default_factory=list)  # the breakdowns, in the order they are shown
    delay: Delay = Delay(None, None, None)
    no_shows: NoShows = NoShows(None, None, None)


# -- suppression ---------------------------------------------------------------------------------------------------


def hidden(count: int, min_count: int) -> bool:
    return 0 < count < min_count


def suppress(name: str, counts: Sequence[tuple[str, int]], min_count: int) -> Table:
    """The table of ``counts`` with small counts (and the shares and complements that reveal them) suppressed."""
    total = sum(count for _, count in counts)
    if hidden(total, min_count):
        return Table(name, [Cell(key, None if count else 0) for key, count in counts], None)
    secret = {key for key, count in counts if hidden(count, min_count)}
    if len(secret) == 1:  # the one hidden cell would be the total minus the others: hide the next smallest too
        others = sorted((count, key) for key, count in counts if count and key not in secret)
        if others:
            secret.add(others[0][1])
    cells = [
        Cell(key, None, None) if key in secret else Cell(key, count, count / total if total else None)
        for key, count in counts
    ]
    return Table(name, cells, total)


# -- SQL: local days, weeks and months on each dialect -------------------------------------------------------------


def _sqlite_local(column: SQLColumnExpression[datetime]) -> ColumnElement[str]:
    """Europe/Rome wall-clock time of a UTC column, in SQLite: +2 h between the last Sundays of March and of
    October at 01:00 UTC (the EU rule since 1996), else +1 h. SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    year = func.strftime("%Y", column)
    summer_from = func.date(year.concat("-03-25"), "weekday 0").concat(" 01:00:00")
    summer_until = func.date(year.concat("-10-25"), "weekday 0").concat(" 01:00:00")
    offset = case((and_(column >= summer_from, column < summer_until), "+2 hours"), else_="+1 hours")
    return func.datetime(column, offset)


def local_day(dialect: str, column: SQLColumnExpression[datetime]) -> ColumnElement[date | str]:
    """The Europe/Rome date of a UTC column (a DATE on PostgreSQL, 'YYYY-MM-DD' on SQLite)."""
    if dialect == "postgresql":
        return cast(func.timezone(TIMEZONE, column), Date)
    return func.date(_sqlite_local(column))


def week_and_month(dialect: str, day: ColumnElement[date | str]) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """(week, month) of a local day: the week's Monday as 'YYYY-MM-DD', the month as 'YYYY-MM'."""
    if dialect == "postgresql":
        midnight = cast(day, DateTime())
        return func.to_char(func.date_trunc("week", midnight), "YYYY-MM-DD"), func.to_char(midnight, "YYYY-MM")
    return func.date(day, "weekday 0", "-6 days"), func.substr(day, 1, 7)


def _hours(
    dialect: str, later: SQLColumnExpression[datetime | None], earlier: SQLColumnExpression[datetime]
) -> ColumnElement[float | Decimal]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


# -- the queries ---------------------------------------------------------------------------------------------------

SESSION_SUMS = ("n", "phone", "online", "switchboard", "follow_up", "past_video", "no_show")


def sessions_query(dialect: str, start: datetime, end: datetime, now: datetime) -> Executable:
    """One pass over the period's sessions (cancelled bookings left out), joined to their booking: counts per local
    day and service (``per_day``), then summed by week, by month, by service and in all, in the same statement.
    Rows: (dimension, key, sessions, phone, online, switchboard, follow_up, past video sessions, no-shows)."""
    past_video = and_(Consultation.ends_at < now, or_(Booking.mode.is_(None), Booking.mode == BookingMode.VIDEO))
    never_joined = Consultation.id.not_in(select(CitizenPass.consultation_id))
    day = local_day(dialect, Consultation.starts_at).label("day")
    service = Consultation.service_id.label("service")
    per_day = (
        select(
            day,
            service,
            func.count().label("n"),
            func.count().filter(Booking.mode == BookingMode.PHONE).label("phone"),
            func.count().filter(Booking.channel == BookingChannel.ONLINE).label("online"),
            func.count().filter(Booking.channel == BookingChannel.SWITCHBOARD).label("switchboard"),
            func.count().filter(Booking.channel == BookingChannel.FOLLOW_UP).label("follow_up"),
            func.count().filter(past_video).label("past_video"),
            func.count().filter(and_(past_video, never_joined)).label("no_show"),
        )
        .select_from(Consultation)
        .outerjoin(Booking, Booking.consultation_id == Consultation.id)
        .where(
            Consultation.starts_at >= start,
            Consultation.starts_at < end,
            or_(Booking.id.is_(None), Booking.status != BookingStatus.CANCELLED),
        )
        .group_by(day, service)
        .cte("per_day")
    )
    week, month = week_and_month(dialect, per_day.c.day)
    sums = [func.coalesce(func.sum(per_day.c[name]), 0) for name in SESSION_SUMS]
    parts = [
        select(literal_column(f"'{name}'"), key.label("key"), *sums).group_by(key)
        for name, key in (("week", week), ("month", month), ("service", per_day.c.service))
    ]
    parts.append(select(literal_column("'total'"), literal_column("''"), *sums))
    return union_all(*parts)


def cases_query(start: datetime, end: datetime) -> Executable:
    """Cases opened in the period by reason, channel, current risk and latest outcome, in one statement.
    Rows: (dimension, key, cases)."""
    opened = (Case.opened_at >= start, Case.opened_at < end)
    latest = (
        select(
            Outcome.kind.label("kind"),
            func.row_number()
            .over(partition_by=Outcome.case_id, order_by=(Outcome.at.desc(), Outcome.id.desc()))
            .label("rank"),
        )
        .join(Case, Case.id == Outcome.case_id)
        .where(*opened)
        .subquery()
    )
    columns: tuple[tuple[str, SQLColumnExpression[object]], ...] = (
        ("reason", Case.reason),
        ("case_channel", Case.channel),
        ("risk_self", Case.risk_self),
        ("risk_others", Case.risk_others),
    )
    outcome = cast(latest.c.kind, String).label("key")
    return union_all(
        *(
            select(literal_column(f"'{name}'"), cast(column, String).label("key"), func.count())
            .where(*opened)
            .group_by(column)
            for name, column in columns
        ),
        select(literal_column("'outcome'"), outcome, func.count()).where(latest.c.rank == 1).group_by(latest.c.kind),
    )


def delay_query(dialect: str, start: datetime, end: datetime) -> Executable:
    """(cases, median hours, mean hours) from first contact to first session; the median by row numbers."""
    raw = _hours(dialect, Case.first_session_at, Case.opened_at)
    hours = case((raw < 0, 0.0), else_=raw)
    ranked = (
        select(
            hours.label("h"),
            func.row_number().over(order_by=hours).label("rn"),
            func.count().over().label("n"),
        )
        .where(Case.opened_at >= start, Case.opened_at < end, Case.first_session_at.is_not(None))
        .subquery()
    )
    middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    return select(func.count(), func.avg(case((middle, ranked.c.h))), func.avg(ranked.c.h))


Counts = dict[str, dict[str, list[int]]]


async def _session_figures(
    sessionmaker: async_sessionmaker[AsyncSession], start: datetime, end: datetime, now: datetime
) -> Counts:
    async with sessionmaker() as db:
        dialect = db.get_bind().dialect.name
        rows = (await db.execute(sessions_query(dialect, start, end, now))).all()
    found: Counts = {}
    for dimension, key, *sums in rows:
        found.setdefault(str(dimension), {})[str(key if key is not None else "")] = [int(s) for s in sums]
    return found


async def _case_figures(
    sessionmaker: async_sessionmaker[AsyncSession], start: datetime, end: datetime
) -> tuple[dict[str, dict[str, int]], tuple[int, float, float]]:
    async with sessionmaker() as db:
        dialect = db.get_bind().dialect.name
        found: dict[str, dict[str, int]] = {}
        for dimension, key, count in (await db.execute(cases_query(start, end))).all():
            found.setdefault(str(dimension), {})[str(key)] = int(count)
        cases, median, mean = (await db.execute(delay_query(dialect, start, end))).one()
    return found, (int(cases), float(median or 0.0), float(mean or 0.0))


# -- the whole -----------------------------------------------------------------------------------------------------


def _weeks(period: Period) -> list[str]:
    monday = period.first - timedelta(days=period.first.weekday())
    return [(monday + timedelta(weeks=n)).isoformat() for n in range((period.last - monday).days // 7 + 1)]


def _months(period: Period) -> list[str]:
    months, year, month = [], period.first.year, period.first.month
    while (year, month) <= (period.last.year, period.last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _ordered(counts: dict[str, int], keys: Iterable[str]) -> list[tuple[str, int]]:
    """Every expected key (zero when absent), then any unexpected one the database held."""
    keys = list(keys)
    return [(k, counts.get(k, 0)) for k in keys] + sorted((k, v) for k, v in counts.items() if k not in keys)


def _values(kind: type[StrEnum]) -> list[str]:
    return [member.value for member in kind]


def _firsts(counts: dict[str, list[int]]) -> dict[str, int]:
    return {key: sums[0] for key, sums in counts.items()}


async def compute(
    sessionmaker: async_sessionmaker[AsyncSession], period: Period, min_count: int, now: datetime | None = None
) -> Statistics:
    """All the figures for ``period``, small counts suppressed below ``min_count``. The sessions' statement and the
    cases' run at the same time, on two connections."""
    now = now or utcnow()
    start, end = period.bounds()
    sessions, (cases, (delay_cases, median, mean)) = await asyncio.gather(
        _session_figures(sessionmaker, start, end, now), _case_figures(sessionmaker, start, end)
    )
    async with sessionmaker() as db:
        names = {str(k): str(v) for k, v in (await db.execute(select(Service.id, Service.name))).all()}
    n, phone, online, switchboard, follow_up, past, missed = sessions.get("total", {}).get("", [0] * 7)
    modes = {BookingMode.VIDEO.value: n - phone, BookingMode.PHONE.value: phone}
    channels = {"online": online, "switchboard": switchboard, "follow_up": follow_up}
    channels[UNBOOKED] = n - online - switchboard - follow_up
    outcomes = cases.get("outcome", {})
    outcomes[NO_OUTCOME] = sum(cases.get("reason", {}).values()) - sum(outcomes.values())
    by_service = sorted(
        ((names.get(k, NO_SERVICE), v) for k, v in _firsts(sessions.get("service", {})).items()), key=lambda kv: kv[0]
    )
    tables = [
        suppress("service", by_service, min_count),
        suppress("mode", _ordered(modes, _values(BookingMode)), min_count),
        suppress("booking_channel", _ordered(channels, BOOKING_CHANNELS), min_count),
        suppress("reason", _ordered(cases.get("reason", {}), _values(Reason)), min_count),
        suppress("case_channel", _ordered(cases.get("case_channel", {}), _values(Channel)), min_count),
        suppress("outcome", _ordered(outcomes, [*_values(OutcomeKind), NO_OUTCOME]), min_count),
        suppress("risk_self", _ordered(cases.get("risk_self", {}), _values(RiskLevel)), min_count),
        suppress("risk_others", _ordered(cases.get("risk_others", {}), _values(RiskLevel)), min_count),
    ]
    weeks = _ordered(_firsts(sessions.get("week", {})), _weeks(period))
    months = _ordered(_firsts(sessions.get("month", {})), _months(period))
    delay_shown = not hidden(delay_cases, min_count)
    shown_missed = (
        not hidden(past, min_count) and not hidden(missed, min_count) and not hidden(past - missed, min_count)
    )
    return Statistics(
        period=period,
        min_count=min_count,
        sessions_by_week=suppress("week", weeks, min_count),
        sessions_by_month=suppress("month", months, min_count),
        tables=tables,
        delay=Delay(
            delay_cases if delay_shown else None,
            median if delay_shown and delay_cases else None,
            mean if delay_shown and delay_cases else None,
        ),
        no_shows=NoShows(
            None if hidden(past, min_count) else past,
            missed if shown_missed else None,
            missed / past if shown_missed and past else None,
        ),
    )
