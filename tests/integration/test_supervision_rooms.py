"""Supervision rooms in the database: who may enter and who moderates, ending, and the attendance register."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server import supervision
from server.errors import Forbidden, InvalidInput, NotFound
from server.keys import sessionmaker_key
from server.models import AuditEvent, MeetingSeries, Role, SeriesInvitee, utcnow
from tests.helpers.factories import make_staff

Client = TestClient[Any, Any]


async def test_who_enters_a_one_off_room_and_who_moderates(client: Client) -> None:
    app = client.app
    maker = app[sessionmaker_key]
    supervisor = await make_staff(app, role=Role.SUPERVISOR, name="Supervisore")
    invited = await make_staff(app, name="Invitata")
    other = await make_staff(app, name="Non invitata")
    coordinator = await make_staff(app, role=Role.COORDINATOR, name="Coordinatrice")
    room = await supervision.create_room(
        maker, supervisor, title=" Supervisione ", starts_at=utcnow(), invitees=[invited.id], agenda="Caso K7Q2"
    )
    assert room.title == "Supervisione"

    assert await supervision.grant(maker, supervisor, room.id) == supervision.GroupGrant(
        room.id, "Supervisione", True, "Supervisore"
    )
    assert (await supervision.grant(maker, invited, room.id)).moderator is False
    assert (await supervision.grant(maker, coordinator, room.id)).moderator is True
    with pytest.raises(Forbidden):
        await supervision.grant(maker, other, room.id)
    with pytest.raises(NotFound):
        await supervision.grant(maker, invited, "nope")

    await supervision.end_meeting(maker, room.id, f"staff:{supervisor.id}")
    with pytest.raises(supervision.MeetingOver):
        await supervision.grant(maker, invited, room.id)
    assert (await supervision.grant(maker, supervisor, room.id, ended=True)).moderator  # reads the register
    with pytest.raises(Forbidden):
        await supervision.grant(maker, other, room.id, ended=True)
    async with maker() as db:
        actions = list(await db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == room.id)))
    assert sorted(actions) == ["create", "end"]


async def test_the_room_of_a_series_follows_its_invitees_and_opens_again(client: Client) -> None:
    app = client.app
    maker = app[sessionmaker_key]
    supervisor = await make_staff(app, role=Role.SUPERVISOR)
    invitee = await make_staff(app)
    outsider = await make_staff(app)
    async with maker.begin() as db:
        series = MeetingSeries(title="Supervisione", rrule="FREQ=WEEKLY", starts_at=utcnow(), created_by=supervisor.id)
        db.add(series)
        await db.flush()
        db.add(SeriesInvitee(series_id=series.id, staff_id=invitee.id))
    room = await supervision.create_room(maker, supervisor, title="Supervisione", starts_at=None, series_id=series.id)
    again = await supervision.create_room(maker, supervisor, title="Altro", starts_at=None, series_id=series.id)
    assert again.id == room.id  # one room per series
    assert await supervision.series_rooms(maker, [series.id, "other"]) == {series.id: room.id}

    assert (await supervision.grant(maker, invitee, room.id)).moderator is False
    with pytest.raises(Forbidden):
        await supervision.grant(maker, outsider, room.id)
    await supervision.end_meeting(maker, room.id, f"staff:{supervisor.id}")
    assert (await supervision.grant(maker, invitee, room.id)).moderator is False  # next week's meeting


async def test_bad_rooms_are_refused_and_only_supervisors_or_coordinators_create(client: Client) -> None:
    app = client.app
    maker = app[sessionmaker_key]
    supervisor = await make_staff(app, role=Role.SUPERVISOR)
    operator = await make_staff(app)
    with pytest.raises(Forbidden):
        await supervision.create_room(maker, operator, title="Mia", starts_at=utcnow())
    with pytest.raises(InvalidInput) as refused:
        await supervision.create_room(maker, supervisor, title=" ", starts_at=None, minutes=0, agenda="x" * 5000)
    assert refused.value.fields == {
        "title": "required",
        "minutes": "out_of_range",
        "agenda": "too_long",
        "starts_at": "required",
    }
    with pytest.raises(InvalidInput) as unknown:
        await supervision.create_room(maker, supervisor, title="S", starts_at=utcnow(), invitees=["ghost"])
    assert unknown.value.fields == {"invitees": "unknown"}
    async with maker() as db:
        assert await db.scalar(select(func.count()).select_from(AuditEvent)) == 0  # nothing was written


async def test_rooms_on_an_agenda_and_the_attendance_register(client: Client) -> None:
    app = client.app
    maker = app[sessionmaker_key]
    supervisor = await make_staff(app, role=Role.SUPERVISOR, name="Supervisore")
    member = await make_staff(app, name="Membro")
    outsider = await make_staff(app)
    now = utcnow().replace(microsecond=0)
    room = await supervision.create_room(maker, supervisor, title="S", starts_at=now, minutes=60, invitees=[member.id])
    window = (now - timedelta(hours=1), now + timedelta(hours=1))
    assert [r.id for r in await supervision.rooms_for(maker, member, *window)] == [room.id]
    assert [r.id for r in await supervision.rooms_for(maker, supervisor, *window)] == [room.id]
    assert await supervision.rooms_for(maker, outsider, *window) == []
    assert await supervision.rooms_for(maker, member, now + timedelta(hours=2), now + timedelta(hours=3)) == []

    await supervision.joined(maker, room.id, supervisor.id, now)
    await supervision.joined(maker, room.id, member.id, now + timedelta(minutes=1))
    await supervision.left(maker, room.id, member.id, now + timedelta(minutes=5))
    await supervision.joined(maker, room.id, member.id, now + timedelta(minutes=6))
    register = await supervision.register(maker, room.id)
    assert [(s.name, s.joined_at - now, s.left_at and s.left_at - now) for s in register] == [
        ("Supervisore", timedelta(0), None),
        ("Membro", timedelta(minutes=1), timedelta(minutes=5)),
        ("Membro", timedelta(minutes=6), None),
    ]
