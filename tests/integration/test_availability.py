"""The availability loader against the real database (SQLite and PostgreSQL): rules, eligibility, overrides,
closures and bookings become the right inputs for the pure slot function."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.availability import free_slots_for, load_day_inputs, load_inputs, load_service, service_and_rules
from scheduling.slots import Slot, free_slots
from server.clock import ROME
from server.errors import NotFound
from server.keys import sessionmaker_key
from server.models import Booking, BookingChannel, BookingMode, BookingStatus, Role, Service, Staff
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
from tests.helpers.factories import make_service, make_staff

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 30 November 2026, 07:00 in Rome
TUESDAY = date(2026, 12, 1)
SANT_AMBROGIO = date(2026, 12, 7)  # a Monday

Client = TestClient[Any, Any]
Maker = async_sessionmaker[AsyncSession]


def sm(client: Client) -> Maker:
    return client.app[sessionmaker_key]


async def add_operator(client: Client, **fields: Any) -> Staff:
    staff = await make_staff(client.app, role=fields.pop("role", Role.OPERATOR))
    if fields:
        async with sm(client).begin() as db:
            await db.execute(update(Staff).where(Staff.id == staff.id).values(**fields))
    return staff


def local_times(slots: list[Slot], day: date) -> list[str]:
    return [f"{s.starts_at.astimezone(ROME):%H:%M}" for s in slots if s.starts_at.astimezone(ROME).date() == day]


def booking(service: Service, operator: Staff, start: datetime, **fields: Any) -> Booking:
    return Booking(
        service_id=service.id,
        operator_id=operator.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=45),
        blocked_until=start + timedelta(minutes=60),
        mode=BookingMode.VIDEO,
        channel=BookingChannel.ONLINE,
        citizen_name="Maria",
        booked_by="citizen",
        manage_token_hash=f"h-{operator.id}-{start.timestamp()}",
        **fields,
    )


async def test_load_service_by_slug_or_id(client: Client) -> None:
    service = await make_service(client.app)
    assert (await load_service(sm(client), "ascolto")).id == service.id
    assert (await load_service(sm(client), service.id)).slug == "ascolto"
    with pytest.raises(NotFound):
        await load_service(sm(client), "nessuno")


async def test_defaults_open_mon_sat_and_closed_on_sant_ambrogio(client: Client) -> None:
    service = await make_service(client.app)
    operator = await add_operator(client)
    slots = await free_slots_for(sm(client), service, NOW, first_day=TUESDAY, days=7)
    expected = ["09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30", "16:30"]
    assert local_times(slots, TUESDAY) == expected
    assert local_times(slots, date(2026, 12, 6)) == []  # Sunday
    assert local_times(slots, SANT_AMBROGIO) == []  # Milan's patron day
    assert all(s.operator_ids == (operator.id,) for s in slots)
    rome = await make_service(client.app, slug="roma", holiday_subdivision="RM")
    rome_slots = await free_slots_for(sm(client), rome, NOW, first_day=SANT_AMBROGIO, days=1)
    assert len(local_times(rome_slots, SANT_AMBROGIO)) == 8
    rules, _ = await load_inputs(sm(client), service, NOW)
    assert date(2026, 12, 8) in rules.closures and date(2026, 12, 25) in rules.closures


async def test_opening_rows_and_closure_rows(client: Client) -> None:
    maker = sm(client)
    service = await make_service(client.app)
    other = await make_service(client.app, slug="altro")
    await add_operator(client)
    async with maker.begin() as db:
        db.add(OpeningHours(service_id=service.id, weekday=1, opens=time(14), closes=time(16)))
        db.add(Closure(service_id=service.id, day=date(2026, 12, 15), reason="training"))
        db.add(Closure(service_id=None, day=date(2026, 12, 22), reason="strike"))
        db.add(Closure(service_id=other.id, day=date(2026, 12, 29), reason="other service only"))
    slots = await free_slots_for(maker, service, NOW, first_day=TUESDAY, days=29)
    # Tuesdays only; 8 December is a holiday, 15 and 22 December closure rows; 29 December is open here.
    assert sorted({s.starts_at.astimezone(ROME).date() for s in slots}) == [TUESDAY, date(2026, 12, 29)]
    assert local_times(slots, TUESDAY) == ["14:00", "15:00"]
    # The booking check reads the same rules with the service itself, one day at a time.
    async with maker() as db:
        for day in (TUESDAY, date(2026, 12, 15), date(2026, 12, 22), date(2026, 12, 29)):
            found, rules = await service_and_rules(db, service.slug, day)
            assert found.id == service.id and found.slug == service.slug
            assert rules.opening == {1: [(time(14), time(16))]}
            assert (day in rules.closures) == (day not in (TUESDAY, date(2026, 12, 29)))
        with pytest.raises(NotFound):
            await service_and_rules(db, "nessuno", TUESDAY)


async def test_eligible_operators_by_role_activity_and_discipline(client: Client) -> None:
    maker = sm(client)
    service = await make_service(client.app, disciplines="Psicologia, psicoterapia")
    psychologist = await add_operator(client, discipline="psicologia")
    therapist = await add_operator(client, discipline="Psicoterapia")
    await add_operator(client, discipline="psichiatria")
    await add_operator(client, discipline="psicologia", active=False)
    await add_operator(client, discipline="psicologia", role=Role.SWITCHBOARD)
    _, schedules = await load_inputs(maker, service, NOW)
    assert {s.operator_id for s in schedules} == {psychologist.id, therapist.id}
    _, only = await load_inputs(maker, service, NOW, operator_id=therapist.id)
    assert [s.operator_id for s in only] == [therapist.id]
    anyone = await make_service(client.app, slug="tutti")
    _, schedules = await load_inputs(maker, anyone, NOW)
    assert len(schedules) == 3  # every active operator, whatever the discipline


async def test_weekly_availability_and_overrides(client: Client) -> None:
    maker = sm(client)
    service = await make_service(client.app)
    operator = await add_operator(client)
    async with maker.begin() as db:
        db.add(Availability(staff_id=operator.id, weekday=1, starts=time(9, 30), ends=time(12, 30)))
        db.add(Availability(staff_id=operator.id, weekday=2, starts=time(9, 30), ends=time(18)))
        db.add(AvailabilityOverride(staff_id=operator.id, day=date(2026, 12, 2), kind=OverrideKind.ABSENCE))
        db.add(
            AvailabilityOverride(
                staff_id=operator.id, day=date(2026, 12, 9), kind=OverrideKind.ABSENCE, starts=time(10), ends=time(17)
            )
        )
        db.add(
            AvailabilityOverride(
                staff_id=operator.id, day=date(2026, 12, 3), kind=OverrideKind.EXTRA, starts=time(15), ends=time(17)
            )
        )
    slots = await free_slots_for(maker, service, NOW, first_day=TUESDAY, days=9)
    assert local_times(slots, TUESDAY) == ["09:30", "10:30", "11:30"]
    assert local_times(slots, date(2026, 12, 2)) == []  # away all day
    assert local_times(slots, date(2026, 12, 3)) == ["15:30"]  # Thursday: only the extra hours (15:30-16:15)
    assert local_times(slots, date(2026, 12, 9)) == []  # Wednesday: 9:30-10:15 overlaps the absence from 10:00
    assert local_times(slots, date(2026, 12, 8)) == []  # holiday


async def test_bookings_block_time_in_every_service_and_count_for_the_cap(client: Client) -> None:
    maker = sm(client)
    service = await make_service(client.app)
    other = await make_service(client.app, slug="altro")
    busy = await add_operator(client, daily_cap=2)
    free = await add_operator(client)
    nine_thirty = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # 9:30 in Rome, winter
    async with maker.begin() as db:
        db.add(booking(service, busy, nine_thirty))
        db.add(booking(other, busy, nine_thirty + timedelta(hours=2)))  # 11:30, another service
        db.add(booking(service, busy, nine_thirty + timedelta(days=1), status=BookingStatus.CANCELLED))
    rules, schedules = await load_inputs(maker, service, NOW)
    loaded = {s.operator_id: s for s in schedules}
    assert loaded[busy.id].booked_per_day == {TUESDAY: 2}
    assert sorted(loaded[busy.id].busy) == [
        (nine_thirty, nine_thirty + timedelta(minutes=60)),
        (nine_thirty + timedelta(hours=2), nine_thirty + timedelta(hours=2, minutes=60)),
    ]
    slots = await free_slots_for(maker, service, NOW, first_day=TUESDAY, days=2)
    tuesday = [s for s in slots if s.starts_at.astimezone(ROME).date() == TUESDAY]
    assert all(s.operator_ids == (free.id,) for s in tuesday)  # the cap (2) is reached
    wednesday = [s for s in slots if s.starts_at.astimezone(ROME).date() == date(2026, 12, 2)]
    assert len(wednesday) == 8 and all(len(s.operator_ids) == 2 for s in wednesday)  # the cancelled one frees it
    mine = await free_slots_for(maker, service, NOW, operator_id=busy.id, first_day=TUESDAY, days=1)
    assert mine == []
    assert rules.session_minutes == 45 and rules.buffer_minutes == 15


async def test_a_booking_being_moved_neither_blocks_nor_counts(client: Client) -> None:
    maker = sm(client)
    service = await make_service(client.app)
    operator = await add_operator(client, daily_cap=1)
    ten_thirty = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    moving = booking(service, operator, ten_thirty)
    async with maker.begin() as db:
        db.add(moving)
    assert await free_slots_for(maker, service, NOW, first_day=TUESDAY, days=1) == []  # the cap is reached
    slots = await free_slots_for(maker, service, NOW, first_day=TUESDAY, days=1, ignore_booking_id=moving.id)
    assert len(local_times(slots, TUESDAY)) == 8


async def test_team_meetings_are_busy_time(client: Client) -> None:
    maker = sm(client)
    service = await make_service(client.app)
    operator = await add_operator(client)
    other = await add_operator(client)
    ten = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesdays 10:00-11:30 in Rome
    async with maker.begin() as db:
        series = MeetingSeries(
            title="Supervisione", rrule="FREQ=WEEKLY", starts_at=ten, minutes=90, created_by=other.id
        )
        db.add(series)
        await db.flush()
        db.add(SeriesInvitee(series_id=series.id, staff_id=operator.id))
        db.add(SeriesException(series_id=series.id, original_start=ten + timedelta(days=14), moved_to=None))
    slots = await free_slots_for(maker, service, NOW, operator_id=operator.id, first_day=TUESDAY, days=15)
    assert local_times(slots, TUESDAY) == ["11:30", "12:30", "13:30", "14:30", "15:30", "16:30"]
    assert len(local_times(slots, date(2026, 12, 15))) == 8  # that occurrence is skipped
    others = await free_slots_for(maker, service, NOW, operator_id=other.id, first_day=TUESDAY, days=1)
    assert len(others) == 8  # the organiser is not invited


async def test_checking_one_day_agrees_with_the_whole_horizon(client: Client) -> None:
    """Booking loads one day (and sums busy time over the horizon): the same slots, in the same fair order."""
    maker = sm(client)
    service = await make_service(client.app)
    loaded, meeting, fraction = await add_operator(client), await add_operator(client), await add_operator(client)
    nine_thirty = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    async with maker.begin() as db:
        ignored = booking(service, loaded, nine_thirty + timedelta(days=1))
        db.add_all([ignored, booking(service, loaded, nine_thirty + timedelta(days=1, hours=2))])
        db.add(booking(service, loaded, nine_thirty + timedelta(days=2)))
        db.add(booking(service, meeting, nine_thirty + timedelta(days=2, hours=1)))  # under the meeting below
        db.add(booking(service, fraction, nine_thirty + timedelta(days=3, microseconds=400_000)))
        db.add(AvailabilityOverride(staff_id=fraction.id, day=TUESDAY, kind=OverrideKind.ABSENCE))
        series = MeetingSeries(
            title="Equipe", rrule="FREQ=DAILY", starts_at=nine_thirty + timedelta(hours=1), minutes=90,
            created_by=loaded.id,
        )  # fmt: skip
        db.add(series)
        await db.flush()
        db.add(SeriesInvitee(series_id=series.id, staff_id=meeting.id))
    for ignore in (None, ignored.id):
        whole = await free_slots_for(maker, service, NOW, ignore_booking_id=ignore)
        for offset in range(-1, 10):  # from Monday, today
            day = TUESDAY + timedelta(days=offset)
            rules, operators = await load_day_inputs(maker, service, day, NOW, ignore_booking_id=ignore)
            expected = [s for s in whole if s.starts_at.astimezone(ROME).date() == day]
            assert free_slots(rules, operators, NOW, first_day=day, days=1) == expected
    assert whole[0].operator_ids == (fraction.id, loaded.id, meeting.id)  # least busy first
