"""Recurring team meetings: RFC 5545 RRULE expansion with skipped and moved occurrences.

A series is written by people in wall-clock time: "every other Thursday at 15:00" means 15:00 in Rome in winter
and in summer. The rule is therefore expanded from the first occurrence's *Rome* time (a timezone-aware start, so
``dateutil`` steps in local days and the UTC offset follows daylight saving), and each occurrence is then stored
and compared as a UTC instant. An occurrence is identified by its original UTC start, which is what a
:class:`~server.models.SeriesException` records when it is skipped or moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.clock import ROME
from server.errors import InvalidInput, NotFound
from server.models import MeetingSeries, SeriesException, SeriesInvitee, Staff

# Meetings recur at most daily: SECONDLY/MINUTELY/HOURLY rules are nonsense here and can expand without end.
FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
MAX_MINUTES = 12 * 60

Sessionmaker = async_sessionmaker[AsyncSession]


class RecurrenceError(InvalidInput):
    """An RRULE that cannot be used for a meeting series."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"rrule": "invalid"})


@dataclass(frozen=True)
class Occurrence:
    """One meeting of a series, as it will happen (``starts_at`` differs from ``original_start`` when moved)."""

    series_id: str
    title: str
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    original_start: datetime  # UTC: the occurrence's identity, for skipping or moving it
    moved: bool = False


def normalise_rrule(text: str) -> str:
    """The rule without an ``RRULE:`` prefix, upper-case, checked for shape; raises :class:`RecurrenceError`."""
    rule = text.strip().upper().removeprefix("RRULE:")
    if not rule or "\n" in rule or "\r" in rule or ":" in rule:
        raise RecurrenceError("a recurrence rule is one RRULE line, e.g. FREQ=WEEKLY;BYDAY=TH")
    if len(rule) > 300:
        raise RecurrenceError("the recurrence rule is too long")
    parts = dict(part.partition("=")[::2] for part in rule.split(";") if part)
    if parts.get("FREQ") not in FREQUENCIES:
        raise RecurrenceError("a meeting repeats daily, weekly, monthly or yearly (FREQ=DAILY|WEEKLY|MONTHLY|YEARLY)")
    return rule


def parse_rrule(text: str, first_start: datetime) -> rrule:
    """The validated rule, anchored at ``first_start`` in Rome wall-clock time."""
    rule = normalise_rrule(text)
    try:
        parsed = rrulestr(rule, dtstart=first_start.astimezone(ROME))
    except ValueError as exc:
        raise RecurrenceError(f"invalid recurrence rule: {exc}") from None
    assert isinstance(parsed, rrule)
    return parsed


def _overlaps(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> bool:
    return start < window_end and end > window_start


def occurrences(
    series: MeetingSeries, exceptions: Iterable[SeriesException], start: datetime, end: datetime
) -> list[Occurrence]:
    """The occurrences of ``series`` overlapping ``[start, end)``, skipped ones left out, moved ones at their new
    time (a move into the window counts even when the original time is outside it). Sorted by start."""
    duration = timedelta(minutes=series.minutes)
    rule = parse_rrule(series.rrule, series.starts_at)
    changed = {e.original_start: e for e in exceptions if e.series_id == series.id}
    found: list[Occurrence] = []
    for local in rule.between((start - duration).astimezone(ROME), end.astimezone(ROME), inc=True):
        original = local.astimezone(UTC)
        if original in changed or not _overlaps(original, original + duration, start, end):
            continue
        found.append(Occurrence(series.id, series.title, original, original + duration, original))
    for exception in changed.values():
        moved_to = exception.moved_to
        if moved_to is not None and _overlaps(moved_to, moved_to + duration, start, end):
            found.append(
                Occurrence(series.id, series.title, moved_to, moved_to + duration, exception.original_start, True)
            )
    return sorted(found, key=lambda o: (o.starts_at, o.series_id))


def is_occurrence(series: MeetingSeries, original_start: datetime) -> bool:
    """Whether the rule produces an occurrence exactly at ``original_start``."""
    rule = parse_rrule(series.rrule, series.starts_at)
    local = original_start.astimezone(ROME)
    return any(d == local for d in rule.between(local - timedelta(seconds=1), local + timedelta(seconds=1), inc=True))


def _check_aware(**instants: datetime) -> None:
    for name, value in instants.items():
        if value.tzinfo is None:
            raise InvalidInput(f"{name} must be timezone-aware", {name: "naive"})


async def create_series(
    sessionmaker: Sessionmaker,
    *,
    title: str,
    rrule: str,
    starts_at: datetime,
    minutes: int,
    created_by: str,
    invitees: Iterable[str],
) -> MeetingSeries:
    """A new series from its first occurrence ``starts_at`` with its invited staff (ids)."""
    _check_aware(starts_at=starts_at)
    title = title.strip()
    if not title or len(title) > 200:
        raise InvalidInput("a meeting needs a title of at most 200 characters", {"title": "invalid"})
    if not 0 < minutes <= MAX_MINUTES:
        raise InvalidInput("a meeting lasts between 1 minute and 12 hours", {"minutes": "invalid"})
    rule = normalise_rrule(rrule)
    parse_rrule(rule, starts_at)
    series = MeetingSeries(
        title=title, rrule=rule, starts_at=starts_at.astimezone(UTC), minutes=minutes, created_by=created_by
    )
    async with sessionmaker.begin() as db:
        db.add(series)
        await db.flush()
        db.add_all(SeriesInvitee(series_id=series.id, staff_id=staff_id) for staff_id in sorted(set(invitees)))
    return series


async def _exception_for(db: AsyncSession, series_id: str, original_start: datetime) -> SeriesException:
    """The (possibly new) exception row of one real occurrence of an existing series."""
    _check_aware(original_start=original_start)
    series = await db.get(MeetingSeries, series_id)
    if series is None:
        raise NotFound("no such meeting series")
    if not is_occurrence(series, original_start):
        raise InvalidInput("no meeting of this series at that time", {"original_start": "not_an_occurrence"})
    existing = await db.scalar(
        select(SeriesException).where(
            SeriesException.series_id == series_id, SeriesException.original_start == original_start
        )
    )
    if existing is not None:
        return existing
    exception = SeriesException(series_id=series_id, original_start=original_start.astimezone(UTC))
    db.add(exception)
    return exception


async def skip_occurrence(sessionmaker: Sessionmaker, series_id: str, original_start: datetime) -> None:
    """Cancel one meeting of the series (identified by its original start)."""
    async with sessionmaker.begin() as db:
        exception = await _exception_for(db, series_id, original_start)
        exception.moved_to = None


async def move_occurrence(
    sessionmaker: Sessionmaker, series_id: str, original_start: datetime, moved_to: datetime
) -> None:
    """Hold one meeting of the series at another time (moving it again replaces the earlier move)."""
    _check_aware(moved_to=moved_to)
    async with sessionmaker.begin() as db:
        exception = await _exception_for(db, series_id, original_start)
        exception.moved_to = moved_to.astimezone(UTC)


async def restore_occurrence(sessionmaker: Sessionmaker, series_id: str, original_start: datetime) -> None:
    """Undo a skip or a move: the meeting is back at its original time."""
    async with sessionmaker.begin() as db:
        exception = await _exception_for(db, series_id, original_start)
        await db.delete(exception)


async def occurrences_for_staff(
    sessionmaker: Sessionmaker, staff_id: str, start: datetime, end: datetime
) -> list[Occurrence]:
    """The meetings ``staff_id`` is invited to within ``[start, end)``, for the agenda (and busy times)."""
    async with sessionmaker() as db:
        series_rows: Sequence[MeetingSeries] = (
            await db.scalars(
                select(MeetingSeries)
                .join(SeriesInvitee, SeriesInvitee.series_id == MeetingSeries.id)
                .where(SeriesInvitee.staff_id == staff_id, MeetingSeries.starts_at < end)
            )
        ).all()
        ids = [s.id for s in series_rows]
        exceptions = (
            list(await db.scalars(select(SeriesException).where(SeriesException.series_id.in_(ids)))) if ids else []
        )
    found = [o for s in series_rows for o in occurrences(s, exceptions, start, end)]
    return sorted(found, key=lambda o: (o.starts_at, o.series_id))


async def all_series(sessionmaker: Sessionmaker) -> list[MeetingSeries]:
    """Every series, by its first meeting."""
    async with sessionmaker() as db:
        return list(await db.scalars(select(MeetingSeries).order_by(MeetingSeries.starts_at)))


@dataclass(frozen=True)
class SeriesDetail:
    series: MeetingSeries
    exceptions: list[SeriesException]
    invitees: list[str]  # their names, sorted


async def series_detail(sessionmaker: Sessionmaker, series_id: str) -> SeriesDetail:
    """A series with its skipped and moved meetings and its invitees' names; :class:`NotFound` otherwise."""
    async with sessionmaker() as db:
        found = await db.get(MeetingSeries, series_id)
        if found is None:
            raise NotFound("no such meeting series")
        exceptions = list(await db.scalars(select(SeriesException).where(SeriesException.series_id == series_id)))
        names = list(
            await db.scalars(
                select(Staff.name)
                .join(SeriesInvitee, SeriesInvitee.staff_id == Staff.id)
                .where(SeriesInvitee.series_id == series_id)
                .order_by(Staff.name)
            )
        )
    return SeriesDetail(found, exceptions, names)


@dataclass(frozen=True)
class Upcoming:
    """A coming meeting by its original time, and what happens to it: ``held``, ``skipped`` or ``moved``."""

    original: datetime  # UTC
    state: str
    moved_to: datetime | None


def upcoming(detail: SeriesDetail, now: datetime, weeks: int) -> list[Upcoming]:
    """The series' meetings from ``now`` to ``weeks`` ahead, by their original time."""
    changed = {e.original_start: e for e in detail.exceptions}
    rule = parse_rrule(detail.series.rrule, detail.series.starts_at)
    horizon = now + timedelta(weeks=weeks)
    rows = []
    for local_start in rule.between(now.astimezone(ROME), horizon.astimezone(ROME), inc=True):
        original = local_start.astimezone(UTC)
        exception = changed.get(original)
        state = "held" if exception is None else ("skipped" if exception.moved_to is None else "moved")
        rows.append(Upcoming(original, state, exception.moved_to if exception else None))
    return rows
