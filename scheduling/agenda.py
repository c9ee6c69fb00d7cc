"""An agenda (day or week): the booked sessions of an operator with the state of each one's join button, the
team meetings they are invited to (with their series' supervision room) and the one-off supervision rooms they
may enter, by local (Europe/Rome) day.

The join button opens the consultation's page from ``join_early_minutes`` before the start until
``join_late_minutes`` after its end; the server decides and says why it is not yet (or no longer) open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling import series
from server import staff_lists, supervision
from server.clock import ROME
from server.models import Booking, BookingStatus, SupervisionRoom
from server.settings import Settings

Sessionmaker = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Entry:
    """One line of the agenda: a booked session (with its join state), a team meeting (``room_id``: the series'
    supervision room, if it has one) or a one-off supervision room."""

    starts_at: datetime
    booking: Booking | None = None
    meeting: series.Occurrence | None = None
    room: SupervisionRoom | None = None
    room_id: str = ""
    ends_at: datetime | None = None  # a supervision room's end
    join: str = ""  # "open", "too_early" or "over"
    opens_at: datetime | None = None


def join_state(booking: Booking, settings: Settings, now: datetime) -> tuple[str, datetime]:
    opens = booking.starts_at - timedelta(minutes=settings.join_early_minutes)
    if now < opens:
        return "too_early", opens
    if now > booking.ends_at + timedelta(minutes=settings.join_late_minutes):
        return "over", opens
    return "open", opens


def bounds(first: date, days: int) -> tuple[datetime, datetime]:
    """The instants of the local days ``first`` .. ``first + days`` (excluded)."""
    start = datetime.combine(first, datetime.min.time(), ROME)
    end = datetime.combine(first + timedelta(days=days), datetime.min.time(), ROME)
    return start, end


async def bookings(sessionmaker: Sessionmaker, staff_id: str, start: datetime, end: datetime) -> list[Booking]:
    """The operator's active bookings starting in [start, end), by start."""
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(Booking)
            .where(
                Booking.operator_id == staff_id,
                Booking.status == BookingStatus.ACTIVE,
                Booking.starts_at >= start,
                Booking.starts_at < end,
            )
            .order_by(Booking.starts_at)
        )
        return list(rows)


async def entries(
    sessionmaker: Sessionmaker, settings: Settings, staff_id: str, first: date, days: int, now: datetime
) -> dict[date, list[Entry]]:
    """The agenda of ``staff_id`` for ``days`` local days from ``first``: every day (empty ones too), each
    day's entries by start."""
    by_day: dict[date, list[Entry]] = {first + timedelta(days=i): [] for i in range(days)}
    start, end = bounds(first, days)
    found = []
    for row in await bookings(sessionmaker, staff_id, start, end):
        state, opens = join_state(row, settings, now)
        found.append(Entry(row.starts_at, booking=row, join=state, opens_at=opens))
    found.extend(await meetings_and_rooms(sessionmaker, staff_id, start, end))
    for entry in sorted(found, key=lambda e: e.starts_at):
        by_day.setdefault(entry.starts_at.astimezone(ROME).date(), []).append(entry)
    return by_day


async def meetings_and_rooms(sessionmaker: Sessionmaker, staff_id: str, start: datetime, end: datetime) -> list[Entry]:
    """Team meetings (with their series' room) and the one-off supervision rooms ``staff_id`` may enter."""
    meetings = await series.occurrences_for_staff(sessionmaker, staff_id, start, end)
    rooms = await supervision.series_rooms(sessionmaker, sorted({m.series_id for m in meetings}))
    found = [Entry(m.starts_at, meeting=m, room_id=rooms.get(m.series_id, "")) for m in meetings]
    person = await staff_lists.member(sessionmaker, staff_id)
    if person is not None:
        for room in await supervision.rooms_for(sessionmaker, person, start, end):
            if room.starts_at is not None and start <= room.starts_at < end:
                ends_at = room.starts_at + timedelta(minutes=room.minutes)
                over = "over" if room.ended_at is not None else ""
                found.append(Entry(room.starts_at, room=room, room_id=room.id, ends_at=ends_at, join=over))
    return found
