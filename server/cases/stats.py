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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, and_, case, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.models import (
    Booking,
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

ROME = ZoneInfo("Europe/Rome")
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
        start = datetime.combine(self.first, time(), tzinfo=ROME).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(), tzinfo=ROME).astimezone(UTC)
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


# -- SQL: local weeks and months on each dialect -------------------------------------------------------------------


def _sqlite_local(column: Any) -> ColumnElement[Any]:
    """Europe/Rome wall-clock time of a UTC column, in SQLite: +2 h between the last Sundays of March and of
    October at 01:00 UTC (the EU rule since 1996), else +1 h. SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    year = func.strftime("%Y", column)
    summer_from = func.date(year.concat("-03-25"), "weekday 0").concat(" 01:00:00")
    summer_until = func.date(year.concat("-10-25"), "weekday 0").concat(" 01:00:00")
    offset = case((and_(column >= summer_from, column < summer_until), "+2 hours"), else_="+1 hours")
    return func.datetime(column, offset)


def buckets(dialect: str, column: Any) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """(week, month) of a UTC column in Europe/Rome: the week's Monday as 'YYYY-MM-DD', the month as 'YYYY-MM'."""
    if dialect == "postgresql":
        rome: ColumnElement[Any] = func.timezone("Europe/Rome", column)
        return func.to_char(func.date_trunc("week", rome), "YYYY-MM-DD"), func.to_char(rome, "YYYY-MM")
    local = _sqlite_local(column)
    return func.date(local, "weekday 0", "-6 days"), func.strftime("%Y-%m", local)


def _hours(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


# -- the queries ---------------------------------------------------------------------------------------------------


def _sessions(start: datetime, end: datetime, *columns: Any) -> Select[Any]:
    """Sessions of the period (cancelled bookings left out), with their booking when they have one."""
    return (
        select(*columns)
        .select_from(Consultation)
        .outerjoin(Booking, Booking.consultation_id == Consultation.id)
        .where(
            Consultation.starts_at >= start,
            Consultation.starts_at < end,
            or_(Booking.id.is_(None), Booking.status != BookingStatus.CANCELLED),
        )
    )


async def _grouped(db: AsyncSession, query: Select[Any]) -> dict[str, int]:
    return {str(key if key is not None else ""): int(count) for key, count in (await db.execute(query)).all()}


async def _session_counts(db: AsyncSession, dialect: str, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    week, month = buckets(dialect, Consultation.starts_at)
    mode = func.coalesce(cast(Booking.mode, String), BookingMode.VIDEO.value)
    channel = func.coalesce(cast(Booking.channel, String), UNBOOKED)
    found: dict[str, dict[str, int]] = {}
    for name, key in (
        ("week", week),
        ("month", month),
        ("service", Consultation.service_id),
        ("mode", mode),
        ("booking_channel", channel),
    ):
        labelled = key.label("key")
        found[name] = await _grouped(db, _sessions(start, end, labelled, func.count()).group_by(labelled))
    return found


async def _case_counts(db: AsyncSession, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    opened = (Case.opened_at >= start, Case.opened_at < end)
    found: dict[str, dict[str, int]] = {}
    columns: tuple[tuple[str, Any], ...] = (
        ("reason", Case.reason),
        ("case_channel", Case.channel),
        ("risk_self", Case.risk_self),
        ("risk_others", Case.risk_others),
    )
    for name, column in columns:
        found[name] = await _grouped(db, select(column, func.count()).where(*opened).group_by(column))
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
    outcomes = await _grouped(db, select(latest.c.kind, func.count()).where(latest.c.rank == 1).group_by(latest.c.kind))
    outcomes[NO_OUTCOME] = sum(found["reason"].values()) - sum(outcomes.values())
    found["outcome"] = outcomes
    return found


async def _delay(db: AsyncSession, dialect: str, start: datetime, end: datetime) -> tuple[int, float, float]:
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
    row = (await db.execute(select(func.count(), func.avg(case((middle, ranked.c.h))), func.avg(ranked.c.h)))).one()
    return int(row[0]), float(row[1] or 0.0), float(row[2] or 0.0)


async def _no_shows(db: AsyncSession, start: datetime, end: datetime, now: datetime) -> tuple[int, int]:
    """(past video sessions, no-shows among them)."""
    never_joined = ~exists().where(CitizenPass.consultation_id == Consultation.id)
    query = _sessions(start, end, func.count(), func.coalesce(func.sum(case((never_joined, 1), else_=0)), 0)).where(
        Consultation.ends_at < now, or_(Booking.id.is_(None), Booking.mode == BookingMode.VIDEO)
    )
    past, missed = (await db.execute(query)).one()
    return int(past), int(missed)


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


def _values(kind: Any) -> list[str]:
    return [member.value for member in kind]


async def compute(
    sessionmaker: async_sessionmaker[AsyncSession], period: Period, min_count: int, now: datetime | None = None
) -> Statistics:
    """All the figures for ``period``, small counts suppressed below ``min_count``."""
    now = now or utcnow()
    start, end = period.bounds()
    async with sessionmaker() as db:
        dialect = db.get_bind().dialect.name
        sessions = await _session_counts(db, dialect, start, end)
        cases = await _case_counts(db, start, end)
        delay_cases, median, mean = await _delay(db, dialect, start, end)
        past, missed = await _no_shows(db, start, end, now)
        names = {str(k): str(v) for k, v in (await db.execute(select(Service.id, Service.name))).all()}
    by_service = sorted(((names.get(k, NO_SERVICE), v) for k, v in sessions["service"].items()), key=lambda kv: kv[0])
    tables = [
        suppress("service", by_service, min_count),
        suppress("mode", _ordered(sessions["mode"], _values(BookingMode)), min_count),
        suppress("booking_channel", _ordered(sessions["booking_channel"], BOOKING_CHANNELS), min_count),
        suppress("reason", _ordered(cases["reason"], _values(Reason)), min_count),
        suppress("case_channel", _ordered(cases["case_channel"], _values(Channel)), min_count),
        suppress("outcome", _ordered(cases["outcome"], [*_values(OutcomeKind), NO_OUTCOME]), min_count),
        suppress("risk_self", _ordered(cases["risk_self"], _values(RiskLevel)), min_count),
        suppress("risk_others", _ordered(cases["risk_others"], _values(RiskLevel)), min_count),
    ]
    delay_shown = not hidden(delay_cases, min_count)
    shown_missed = not hidden(missed, min_count) and not hidden(past - missed, min_count)
    return Statistics(
        period=period,
        min_count=min_count,
        sessions_by_week=suppress("week", _ordered(sessions["week"], _weeks(period)), min_count),
        sessions_by_month=suppress("month", _ordered(sessions["month"], _months(period)), min_count),
        tables=tables,
        delay=Delay(
            delay_cases if delay_shown else None,
            median if delay_shown and delay_cases else None,
            mean if delay_shown and delay_cases else None,
        ),
        no_shows=NoShows(
            None if hidden(past, min_count) else past,
            missed if shown_missed and not hidden(past, min_count) else None,
            missed / past if shown_missed and past and not hidden(past, min_count) else None,
        ),
    )
