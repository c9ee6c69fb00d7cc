"""Group supervision rooms: creating them, who may enter and who moderates, and the attendance register.

Who may enter a room (staff only; a citizen never can):

- its creator, and any coordinator;
- for a one-off room, the staff invited to it; for the room of a recurring team meeting, the meeting's invitees
  and its creator.

The moderators are the creator and every supervisor or coordinator who may enter. A one-off room is over once a
moderator ends it; the room of a recurring meeting opens again at the next meeting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import actors, audit
from server.errors import Forbidden, InvalidInput, NotFound
from server.models import (
    Attendance,
    MeetingSeries,
    Role,
    RoomInvitee,
    SeriesInvitee,
    Staff,
    SupervisionRoom,
    utcnow,
)

Sessionmaker = async_sessionmaker[AsyncSession]
CREATORS = frozenset({Role.SUPERVISOR, Role.COORDINATOR})
MODERATOR_ROLES = frozenset({Role.SUPERVISOR, Role.COORDINATOR})
MAX_TITLE = 200
MAX_AGENDA = 4000
MAX_MINUTES = 8 * 60


class MeetingOver(Exception):
    """The one-off room was ended by a moderator and cannot be entered again."""


@dataclass(frozen=True)
class GroupGrant:
    room_id: str
    title: str
    moderator: bool
    name: str


def check_room_fields(title: str, agenda: str, minutes: int) -> dict[str, str]:
    fields = {}
    if not title.strip():
        fields["title"] = "required"
    elif len(title.strip()) > MAX_TITLE:
        fields["title"] = "too_long"
    if len(agenda) > MAX_AGENDA:
        fields["agenda"] = "too_long"
    if not 0 < minutes <= MAX_MINUTES:
        fields["minutes"] = "out_of_range"
    return fields


async def create_room(
    sessionmaker: Sessionmaker,
    creator: Staff,
    *,
    title: str,
    starts_at: datetime | None,
    minutes: int = 90,
    agenda: str = "",
    invitees: Sequence[str] = (),
    series_id: str | None = None,
) -> SupervisionRoom:
    """A one-off room at ``starts_at`` with its ``invitees`` (staff ids), or the room of the meeting series
    ``series_id`` (its invitees are the series'; one room per series, so asking again returns the same room)."""
    if creator.role not in CREATORS:
        raise Forbidden("only a supervisor or a coordinator creates supervision rooms")
    fields = check_room_fields(title, agenda, minutes)
    if series_id is None and starts_at is None:
        fields["starts_at"] = "required"
    if fields:
        raise InvalidInput("the room is not valid", fields)
    async with sessionmaker.begin() as db:
        if series_id is not None:
            if await db.get(MeetingSeries, series_id) is None:
                raise NotFound("no such meeting series")
            existing = await db.scalar(select(SupervisionRoom).where(SupervisionRoom.series_id == series_id))
            if existing is not None:
                return existing
        found = set(await db.scalars(select(Staff.id).where(Staff.id.in_(set(invitees)), Staff.active.is_(True))))
        if len(found) != len(set(invitees)):
            raise InvalidInput("some invited staff do not exist", {"invitees": "unknown"})
        room = SupervisionRoom(
            title=title.strip(),
            agenda=agenda.strip(),
            starts_at=starts_at,
            minutes=minutes,
            series_id=series_id,
            created_by=creator.id,
        )
        db.add(room)
        await db.flush()
        db.add_all(RoomInvitee(room_id=room.id, staff_id=staff_id) for staff_id in sorted(found))
        audit.record(db, actors.staff(creator.id), "create", "supervision_room", room.id)
    return room


async def open_series_room(sessionmaker: Sessionmaker, creator: Staff, series_id: str) -> SupervisionRoom:
    """The room of a recurring team meeting: made on first asking (titled and timed as the series), the same
    room after that."""
    async with sessionmaker() as db:
        series = await db.get(MeetingSeries, series_id)
    if series is None:
        raise NotFound("no such meeting series")
    minutes = min(max(series.minutes, 1), MAX_MINUTES)
    return await create_room(
        sessionmaker, creator, title=series.title, starts_at=None, minutes=minutes, series_id=series.id
    )


async def get_room(sessionmaker: Sessionmaker, room_id: str) -> SupervisionRoom:
    """The room; :class:`NotFound` otherwise (whether one may enter it is :func:`grant`'s to say)."""
    async with sessionmaker() as db:
        found = await db.get(SupervisionRoom, room_id)
    if found is None:
        raise NotFound("no such room")
    return found


async def _may_enter(db: AsyncSession, room: SupervisionRoom, staff: Staff) -> bool:
    if room.created_by == staff.id or staff.role == Role.COORDINATOR:
        return True
    if room.series_id is None:
        invited = exists().where(RoomInvitee.room_id == room.id, RoomInvitee.staff_id == staff.id)
    else:
        series = await db.get(MeetingSeries, room.series_id)
        if series is not None and series.created_by == staff.id:
            return True
        invited = exists().where(SeriesInvitee.series_id == room.series_id, SeriesInvitee.staff_id == staff.id)
    return bool(await db.scalar(select(invited)))


async def grant(sessionmaker: Sessionmaker, staff: Staff, room_id: str, *, ended: bool = False) -> GroupGrant:
    """May this staff member enter the room, and do they moderate it? Raises NotFound, Forbidden or MeetingOver
    (unless ``ended``: who moderated a meeting that is over still reads its register)."""
    async with sessionmaker() as db:
        room = await db.get(SupervisionRoom, room_id)
        if room is None:
            raise NotFound("no such room")
        if not await _may_enter(db, room, staff):
            raise Forbidden("you are not invited to this room")
    if room.ended_at is not None and not ended:
        raise MeetingOver(room_id)
    moderator = room.created_by == staff.id or staff.role in MODERATOR_ROLES
    return GroupGrant(room.id, room.title, moderator, staff.name)


async def end_meeting(sessionmaker: Sessionmaker, room_id: str, actor: str) -> None:
    """A moderator ended the meeting: a one-off room is over; the room of a series waits for the next meeting."""
    async with sessionmaker.begin() as db:
        room = await db.get(SupervisionRoom, room_id)
        if room is None:
            return
        if room.series_id is None and room.ended_at is None:
            room.ended_at = utcnow()
        audit.record(db, actor, "end", "supervision_room", room_id)


async def rooms_for(sessionmaker: Sessionmaker, staff: Staff, start: datetime, end: datetime) -> list[SupervisionRoom]:
    """The one-off rooms that ``staff`` may enter and that overlap [start, end), by start."""
    async with sessionmaker() as db:
        invited = select(RoomInvitee.room_id).where(RoomInvitee.staff_id == staff.id)
        query = select(SupervisionRoom).where(
            SupervisionRoom.series_id.is_(None),
            SupervisionRoom.starts_at < end,
            SupervisionRoom.starts_at > start - timedelta(minutes=MAX_MINUTES),
        )
        if staff.role != Role.COORDINATOR:
            query = query.where(or_(SupervisionRoom.created_by == staff.id, SupervisionRoom.id.in_(invited)))
        rooms = list(await db.scalars(query.order_by(SupervisionRoom.starts_at)))
    return [r for r in rooms if r.starts_at is not None and r.starts_at + timedelta(minutes=r.minutes) > start]


async def series_rooms_for(sessionmaker: Sessionmaker, staff: Staff) -> list[tuple[SupervisionRoom, MeetingSeries]]:
    """The rooms of the meeting series ``staff`` may enter (the series' creator and invitees; coordinators), by
    the series' title."""
    query = select(SupervisionRoom, MeetingSeries).join(MeetingSeries, MeetingSeries.id == SupervisionRoom.series_id)
    if staff.role != Role.COORDINATOR:
        invited = exists().where(SeriesInvitee.series_id == MeetingSeries.id, SeriesInvitee.staff_id == staff.id)
        query = query.where(or_(MeetingSeries.created_by == staff.id, SupervisionRoom.created_by == staff.id, invited))
    async with sessionmaker() as db:
        rows = await db.execute(query.order_by(MeetingSeries.title))
    return [(room, series) for room, series in rows]


async def series_rooms(sessionmaker: Sessionmaker, series_ids: Sequence[str]) -> dict[str, str]:
    """The room id of each of these meeting series that has one."""
    if not series_ids:
        return {}
    async with sessionmaker() as db:
        found = await db.execute(
            select(SupervisionRoom.series_id, SupervisionRoom.id).where(SupervisionRoom.series_id.in_(series_ids))
        )
    return {series_id: room_id for series_id, room_id in found if series_id is not None}


async def joined(sessionmaker: Sessionmaker, room_id: str, staff_id: str, at: datetime) -> None:
    """The register: ``staff_id`` entered the call of the room at ``at``."""
    async with sessionmaker.begin() as db:
        db.add(Attendance(room_id=room_id, staff_id=staff_id, joined_at=at))


async def left(sessionmaker: Sessionmaker, room_id: str, staff_id: str, at: datetime) -> None:
    """The register: ``staff_id`` left the call at ``at`` (closes their open stays in the room)."""
    async with sessionmaker.begin() as db:
        await db.execute(
            update(Attendance)
            .where(Attendance.room_id == room_id, Attendance.staff_id == staff_id, Attendance.left_at.is_(None))
            .values(left_at=at)
        )


@dataclass(frozen=True)
class Stay:
    name: str
    joined_at: datetime
    left_at: datetime | None


async def register(sessionmaker: Sessionmaker, room_id: str) -> list[Stay]:
    """The attendance register of a room, by arrival."""
    async with sessionmaker() as db:
        rows = await db.execute(
            select(Staff.name, Attendance.joined_at, Attendance.left_at)
            .join(Staff, Staff.id == Attendance.staff_id)
            .where(Attendance.room_id == room_id)
            .order_by(Attendance.joined_at, Attendance.id)
        )
    return [Stay(name, joined_at, left_at) for name, joined_at, left_at in rows]
