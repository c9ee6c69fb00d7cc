"""The pure slot function: properties against a slow, obviously-correct oracle (hypothesis), and examples.

The oracle converts wall-clock times on its own (minute by minute across a spring-forward gap) and checks time
minute by minute, so it shares no code with :mod:`scheduling.slots` beyond the dataclasses.
"""

from __future__ import annotations

import time as systime
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling import slots as slots_module
from scheduling.availability import public_holidays
from scheduling.slots import (
    OperatorSchedule,
    Ranges,
    ServiceRules,
    Slot,
    find_nearest,
    free_slots,
    slot_at,
    slot_is_free,
    to_utc,
)
from server.clock import ROME

MINUTE = timedelta(minutes=1)
SPRING = date(2026, 3, 29)  # 02:00-03:00 does not exist
AUTUMN = date(2026, 10, 25)  # 02:00-03:00 happens twice
WEEKDAYS: dict[int, Ranges] = {d: ((time(9, 30), time(18)),) for d in range(6)}
EVERY_DAY: dict[int, Ranges] = {d: ((time(9, 30), time(18)),) for d in range(7)}


BASE_RULES = ServiceRules(45, 15, 0, 400, WEEKDAYS, frozenset())  # no notice, a long horizon: examples stay short
BASE_OPERATOR = OperatorSchedule("a", EVERY_DAY, {}, {}, None, (), {})


def rules(opening: Mapping[int, Ranges] = WEEKDAYS, **fields: Any) -> ServiceRules:
    return replace(BASE_RULES, opening=opening, **fields)


def operator(operator_id: str = "a", weekly: Mapping[int, Ranges] = EVERY_DAY, **fields: Any) -> OperatorSchedule:
    return replace(BASE_OPERATOR, operator_id=operator_id, weekly=weekly, **fields)


def local(slot: Slot) -> str:
    return f"{slot.starts_at.astimezone(ROME):%H:%M}"


def on(slots: Sequence[Slot], day: date) -> list[Slot]:
    return [s for s in slots if s.starts_at.astimezone(ROME).date() == day]


# --- the oracle ------------------------------------------------------------------------------------------------


def oracle_utc(day: date, wall: time) -> datetime:
    """First occurrence of a wall time; inside a gap, the first wall time that exists after it (the jump)."""
    naive = datetime.combine(day, wall)
    while True:
        instant = naive.replace(tzinfo=ROME).astimezone(UTC)
        if instant.astimezone(ROME).replace(tzinfo=None) == naive:
            return instant
        naive += MINUTE


def oracle_ranges(day: date, ranges: Sequence[tuple[time, time]]) -> list[tuple[datetime, datetime]]:
    spans = [(oracle_utc(day, a), oracle_utc(day, b)) for a, b in ranges if b > a]
    return [(a, b) for a, b in spans if b > a]


def oracle_available(op: OperatorSchedule, day: date, start: datetime, end: datetime) -> bool:
    """Every five minutes of [start, end) in a weekly or extra range and in no absence (all rule times are on a
    15-minute wall-clock grid and every start on a 5-minute one, so a 5-minute walk misses no boundary)."""
    absences = op.absences.get(day, ())
    if None in absences:
        return False
    present = oracle_ranges(day, [*op.weekly.get(day.weekday(), ()), *op.extra.get(day, ())])
    away = oracle_ranges(day, [a for a in absences if a is not None])
    minute = start
    while minute < end:
        if not any(a <= minute < b for a, b in present) or any(a <= minute < b for a, b in away):
            return False
        minute += 5 * MINUTE
    return True


def oracle_free(rules: ServiceRules, op: OperatorSchedule, day: date, start: datetime) -> bool:
    end = start + timedelta(minutes=rules.session_minutes)
    blocked = end + timedelta(minutes=rules.buffer_minutes)
    cap = op.daily_cap
    if cap is not None and op.booked_per_day.get(day, 0) >= cap:
        return False
    if any(b_start < blocked and b_end > start and b_end > b_start for b_start, b_end in op.busy):
        return False
    return oracle_available(op, day, start, end)


def oracle(
    rules: ServiceRules, ops: Sequence[OperatorSchedule], now: datetime, first: date, last: date
) -> set[tuple[datetime, str]]:
    """Every free (start, operator) pair on the local days first .. last (inclusive)."""
    earliest = now + timedelta(minutes=rules.min_notice_minutes)
    session = timedelta(minutes=rules.session_minutes)
    step = session + timedelta(minutes=rules.buffer_minutes)
    pairs = set()
    day = first
    while day <= last:
        if day not in rules.closures:
            for opens, closes in oracle_ranges(day, rules.opening.get(day.weekday(), ())):
                start = opens
                while start + session <= closes:
                    if start >= earliest:
                        pairs |= {(start, op.operator_id) for op in ops if oracle_free(rules, op, day, start)}
                    start += step
        day += timedelta(days=1)
    return pairs


# --- strategies ------------------------------------------------------------------------------------------------

BASES = [SPRING - timedelta(days=2), AUTUMN - timedelta(days=2), date(2026, 7, 13), date(2026, 12, 5)]
# Wall times anywhere in the day (the function must be right for any range), but mostly in office hours, where
# busy time, absences and slots meet often enough to test their interplay.
walls = st.builds(time, st.integers(7, 19) | st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
ranges_: st.SearchStrategy[Ranges] = st.lists(st.tuples(walls, walls).map(lambda w: (min(w), max(w))), max_size=2)
weekly: st.SearchStrategy[Mapping[int, Ranges]] = st.dictionaries(st.integers(0, 6), ranges_, max_size=7)
ZONES = [UTC, ROME, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo"), timezone(-timedelta(hours=3))]
zones = st.sampled_from(ZONES)
opening: st.SearchStrategy[Mapping[int, Ranges]] = st.dictionaries(
    st.integers(0, 6),
    st.lists(st.tuples(walls, walls).map(lambda w: (min(w), max(w))), min_size=1, max_size=2),
    min_size=4,
)
Scenario = tuple[ServiceRules, list[OperatorSchedule], datetime, date]


def nudge(wall: time, quarters: int) -> time:
    """``wall`` moved by ``quarters`` quarter hours, kept within the day."""
    minutes = min(max(wall.hour * 60 + wall.minute + 15 * quarters, 0), 23 * 60 + 45)
    return time(minutes // 60, minutes % 60)


@st.composite
def near(draw: st.DrawFn, hours: Mapping[int, Ranges]) -> Mapping[int, Ranges]:
    """Ranges close to ``hours`` (each end moved by up to half an hour): availability that ends just before or
    after a session, the edge cases that matter."""
    shift = st.integers(-2, 2)
    return {d: [(nudge(a, draw(shift)), nudge(b, draw(shift))) for a, b in ranges] for d, ranges in hours.items()}


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    base = draw(st.sampled_from(BASES))
    days = [base + timedelta(days=i) for i in range(6)]
    day_keys = st.sampled_from(days)
    service = ServiceRules(
        session_minutes=draw(st.sampled_from([15, 30, 45, 60, 90])),
        buffer_minutes=draw(st.sampled_from([0, 5, 15])),
        min_notice_minutes=draw(st.sampled_from([0, 60, 120, 1440])),
        horizon_days=draw(st.integers(2, 6)),
        opening=draw(opening),
        closures=frozenset(draw(st.lists(day_keys, max_size=2))),
    )
    start_utc = datetime.combine(base, time(0), UTC)
    busy_spans = st.builds(  # mostly on the 5-minute grid in office hours, sometimes anywhere
        lambda day, at, minutes: (
            start_utc + timedelta(days=day, minutes=at),
            start_utc + timedelta(days=day, minutes=at + minutes),
        ),
        st.integers(-1, 5),
        st.integers(6 * 12, 18 * 12).map(lambda m: m * 5) | st.integers(0, 1439),
        st.integers(0, 36).map(lambda m: m * 5) | st.integers(0, 180),
    )
    ops = [
        OperatorSchedule(
            operator_id=f"op{i}",
            weekly=draw(st.just(service.opening) | near(service.opening) | weekly),  # just: the loader's default
            absences=draw(st.dictionaries(day_keys, st.lists(st.none() | st.tuples(walls, walls), max_size=2))),
            extra=draw(st.dictionaries(day_keys, ranges_, max_size=2)),
            daily_cap=draw(st.none() | st.integers(0, 3)),
            busy=draw(st.lists(busy_spans, max_size=10)),
            booked_per_day=draw(st.dictionaries(day_keys, st.integers(0, 4), max_size=3)),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    now_utc = start_utc + timedelta(minutes=draw(st.integers(-300, 1440 + 300)))
    return service, ops, now_utc.astimezone(draw(zones)), base


# --- properties ------------------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_free_slots_are_exactly_the_oracles(scenario: Scenario) -> None:
    """Sound (every listed operator is really free) and complete (nobody free is left out)."""
    service, ops, now, _ = scenario
    result = free_slots(service, ops, now)
    today = now.astimezone(ROME).date()
    last = today + timedelta(days=service.horizon_days - 1)
    got = {(s.starts_at, op) for s in result for op in s.operator_ids}
    assert got == oracle(service, ops, now, today, last)
    assert [s.starts_at for s in result] == sorted({s.starts_at for s in result})
    by_id = {op.operator_id: op for op in ops}
    for slot in result:
        day = slot.starts_at.astimezone(ROME).date()
        assert slot.starts_at.tzinfo is UTC
        assert slot.ends_at - slot.starts_at == timedelta(minutes=service.session_minutes)
        assert today <= day <= last and day not in service.closures
        assert slot.starts_at >= now + timedelta(minutes=service.min_notice_minutes)
        assert slot.operator_ids and len(set(slot.operator_ids)) == len(slot.operator_ids)
        loads = [load(by_id[i], day) for i in slot.operator_ids]  # cheap enough: a few operators
        assert loads == sorted(loads)


def load(op: OperatorSchedule, day: date) -> tuple[int, int, str]:
    """The fair-assignment order: bookings that day, then minutes busy in all (overlaps counted once), then id."""
    minutes = {start + i * MINUTE for start, end in op.busy for i in range((end - start) // MINUTE)}
    return op.booked_per_day.get(day, 0), len(minutes), op.operator_id


@settings(max_examples=40, deadline=None)
@given(scenarios(), st.integers(0, 5), st.integers(0, 4))
def test_a_window_is_a_slice_of_the_whole(scenario: Scenario, offset: int, days: int) -> None:
    """``first_day``/``days`` only select days: they never change what a day offers."""
    service, ops, now, base = scenario
    first = base + timedelta(days=offset)
    whole = free_slots(service, ops, now)
    window = free_slots(service, ops, now, first_day=first, days=days)
    assert window == [s for s in whole if first <= s.starts_at.astimezone(ROME).date() < first + timedelta(days=days)]


@settings(max_examples=30, deadline=None)
@given(scenarios(), zones)
def test_the_zone_now_is_expressed_in_does_not_matter(scenario: Scenario, zone: timezone | ZoneInfo) -> None:
    service, ops, now, _ = scenario
    assert free_slots(service, ops, now) == free_slots(service, ops, now.astimezone(zone))


@settings(max_examples=30, deadline=None)
@given(scenarios())
def test_slot_is_free_agrees_with_free_slots(scenario: Scenario) -> None:
    """At every listed start, each operator is free by ``slot_is_free`` exactly when the slot lists them."""
    service, ops, now, _ = scenario
    listed = {(s.starts_at, op) for s in free_slots(service, ops, now) for op in s.operator_ids}
    for start in {start for start, _ in listed}:
        for op in ops:
            assert slot_is_free(service, op, start, now) == ((start, op.operator_id) in listed)


@settings(max_examples=30, deadline=None)
@given(scenarios(), st.integers(0, 6 * 24 * 12))
def test_slot_at_is_the_listed_slot(scenario: Scenario, minutes: int) -> None:
    """``slot_at`` gives the listed slot at each listed start (same operators, same order), None elsewhere."""
    service, ops, now, base = scenario
    listed = {s.starts_at: s for s in free_slots(service, ops, now)}
    anywhere = datetime.combine(base, time(0), UTC) + timedelta(minutes=minutes * 5)
    for start in [*listed, anywhere, anywhere + timedelta(seconds=0.5)]:
        assert slot_at(service, ops, start, now) == listed.get(start)


# --- time zones ------------------------------------------------------------------------------------------------


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Lets a test change the process's local time zone; restores it (and tzset) afterwards."""
    yield monkeypatch
    monkeypatch.undo()
    systime.tzset()


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham", "Europe/Rome"])
def test_the_machines_time_zone_does_not_matter(machine_zone: pytest.MonkeyPatch, zone: str) -> None:
    service = rules(EVERY_DAY | {6: ((time(1), time(4)),)}, session_minutes=30, buffer_minutes=0)
    nine = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    ops = [operator(weekly=service.opening, busy=[(nine, nine + timedelta(hours=1))], booked_per_day={nine.date(): 1})]
    now = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)
    slots_module._wall_epoch.cache_clear()
    reference = free_slots(service, ops, now, days=40)
    machine_zone.setenv("TZ", zone)
    systime.tzset()
    slots_module._wall_epoch.cache_clear()  # recompute every conversion under the new local zone
    assert free_slots(service, ops, now, days=40) == reference
    assert free_slots(service, ops, now.astimezone(ZoneInfo(zone)), days=40) == reference


# --- examples --------------------------------------------------------------------------------------------------

MONDAY = date(2026, 11, 30)
EARLY = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # Sunday noon: everything of the week ahead is bookable


def test_a_normal_day_has_eight_sessions_of_45_plus_15() -> None:
    slots = free_slots(rules(), [operator()], EARLY, first_day=MONDAY, days=7)
    assert [local(s) for s in on(slots, MONDAY)] == [
        "09:30",
        "10:30",
        "11:30",
        "12:30",
        "13:30",
        "14:30",
        "15:30",
        "16:30",
    ]
    assert f"{on(slots, MONDAY)[-1].ends_at.astimezone(ROME):%H:%M}" == "17:15"
    assert len(slots) == 6 * 8  # Monday to Saturday
    assert on(slots, date(2026, 12, 6)) == []  # Sunday
    assert on(slots, MONDAY)[0].starts_at == datetime(2026, 11, 30, 8, 30, tzinfo=UTC)


def test_sant_ambrogio_is_closed_in_milan() -> None:
    closures = public_holidays("MI", MONDAY, date(2026, 12, 31))
    assert date(2026, 12, 7) in closures and date(2026, 12, 7) not in public_holidays(
        "RM", MONDAY, MONDAY + timedelta(days=30)
    )
    slots = free_slots(rules(closures=closures), [operator()], EARLY, first_day=date(2026, 12, 7), days=2)
    assert slots == []  # 7 December (Sant'Ambrogio) and 8 December (Immacolata)


def test_summer_and_winter_time_on_and_around_the_dst_days() -> None:
    service = rules(EVERY_DAY)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for day, first in [(SPRING - timedelta(days=1), "08:30"), (SPRING, "07:30"), (SPRING + timedelta(days=1), "07:30")]:
        slots = free_slots(service, [operator()], now, first_day=day, days=1)
        assert (f"{slots[0].starts_at:%H:%M}", local(slots[0]), len(slots)) == (first, "09:30", 8)
    now = datetime(2026, 10, 1, tzinfo=UTC)
    for day, first in [(AUTUMN - timedelta(days=1), "07:30"), (AUTUMN, "08:30"), (AUTUMN + timedelta(days=1), "08:30")]:
        slots = free_slots(service, [operator()], now, first_day=day, days=1)
        assert (f"{slots[0].starts_at:%H:%M}", local(slots[0]), len(slots)) == (first, "09:30", 8)


@pytest.mark.parametrize(
    ("day", "opens", "closes", "expected"),
    [
        (SPRING, time(2), time(4), ["01:00", "01:30"]),  # 02:00 does not exist: from the jump (03:00 CEST)
        (SPRING, time(2, 15), time(2, 45), []),  # wholly inside the gap
        (SPRING, time(1), time(3), ["00:00", "00:30"]),  # 01:00-02:00 CET, then the clocks jump to 03:00
        (AUTUMN, time(2), time(4), ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]),  # the hour twice
        (AUTUMN, time(2), time(2, 30), ["00:00"]),  # the first 02:00-02:30 (CEST)
        (AUTUMN, time(1), time(3), ["23:00", "23:30", "00:00", "00:30", "01:00", "01:30"]),
    ],
)
def test_ranges_across_the_dst_changes(day: date, opens: time, closes: time, expected: list[str]) -> None:
    service = rules({6: ((opens, closes),)}, session_minutes=30, buffer_minutes=0)
    slots = free_slots(
        service, [operator(weekly=service.opening)], datetime(2026, 3, 1, tzinfo=UTC), first_day=day, days=1
    )
    assert [f"{s.starts_at:%H:%M}" for s in slots] == expected
    assert all(s.ends_at - s.starts_at == timedelta(minutes=30) for s in slots)


def test_to_utc_maps_gap_times_to_the_jump_and_repeated_times_to_their_first_occurrence() -> None:
    assert to_utc(SPRING, time(2, 30)) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert to_utc(SPRING, time(3)) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert to_utc(AUTUMN, time(2, 30)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert to_utc(AUTUMN, time(3)) == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)


def test_bookings_buffers_caps_and_fair_order() -> None:
    nine_thirty = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    busy = operator("busy", busy=[(nine_thirty, nine_thirty + timedelta(minutes=60))], booked_per_day={MONDAY: 1})
    idle = operator("idle")
    capped = operator("capped", daily_cap=1, booked_per_day={MONDAY: 1})
    # Busy 10:31-10:32 in Rome: inside the 10:30 session, one minute of busy time in all.
    late = operator("late", busy=[(nine_thirty + timedelta(minutes=61), nine_thirty + timedelta(minutes=62))])
    slots = on(free_slots(rules(), [busy, idle, capped, late], EARLY, first_day=MONDAY, days=1), MONDAY)
    assert slots[0].operator_ids == ("idle", "late")  # busy is busy; capped has reached its cap
    assert slots[1].operator_ids == ("idle", "busy")  # late overlaps; busy has one booking that day
    assert slots[2].operator_ids == ("idle", "late", "busy")  # late was busy one minute in all
    assert all("capped" not in s.operator_ids for s in slots)


def test_buffer_is_kept_before_the_next_booking() -> None:
    """A booking at 11:00 blocks the 10:30 slot: 10:30 + 45 + 15 reaches 11:30."""
    eleven = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    op = operator(busy=[(eleven, eleven + timedelta(minutes=60))])
    slots = on(free_slots(rules(), [op], EARLY, first_day=MONDAY, days=1), MONDAY)
    assert [local(s) for s in slots] == ["09:30", "12:30", "13:30", "14:30", "15:30", "16:30"]


def test_notice_horizon_and_window() -> None:
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Rome
    slots = free_slots(rules(min_notice_minutes=120, horizon_days=2), [operator()], now)
    assert [local(s) for s in on(slots, MONDAY)] == ["12:30", "13:30", "14:30", "15:30", "16:30"]
    assert {s.starts_at.astimezone(ROME).date() for s in slots} == {MONDAY, MONDAY + timedelta(days=1)}
    assert free_slots(rules(), [operator()], now, first_day=MONDAY - timedelta(days=3), days=3) == []  # the past
    assert free_slots(rules(), [operator()], now, days=0) == []


def test_availability_extra_hours_and_absences() -> None:
    tuesday = MONDAY + timedelta(days=1)
    op = operator(
        weekly={0: ((time(9, 30), time(12)),)},
        extra={tuesday: ((time(14, 30), time(16)),)},
        absences={MONDAY: ((time(10, 30), time(11)),), MONDAY + timedelta(days=7): (None,)},
    )
    slots = free_slots(rules(), [op], EARLY, first_day=MONDAY, days=8)
    assert [local(s) for s in on(slots, MONDAY)] == ["09:30"]
    assert [local(s) for s in on(slots, tuesday)] == ["14:30"]
    assert on(slots, MONDAY + timedelta(days=7)) == []


def test_fractions_of_a_second_round_outwards() -> None:
    nine_thirty = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    tail = operator(busy=[(nine_thirty - timedelta(hours=1), nine_thirty + timedelta(microseconds=1))])
    assert not slot_is_free(rules(), tail, nine_thirty, EARLY)  # busy until a microsecond after the start
    assert not slot_is_free(rules(), operator(), nine_thirty, nine_thirty + timedelta(microseconds=1))  # started
    assert slot_is_free(rules(), operator(), nine_thirty, nine_thirty)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        free_slots(rules(), [operator()], datetime(2026, 11, 30, 9, 0))


def test_find_nearest() -> None:
    slots = free_slots(rules(), [operator()], EARLY, first_day=MONDAY, days=2)
    wanted = datetime(2026, 11, 30, 11, 40, tzinfo=UTC)  # 12:40 in Rome, between 12:30 and 13:30
    assert [local(s) for s in find_nearest(slots, wanted)] == ["11:30", "12:30", "13:30"]
    assert [local(s) for s in find_nearest(slots, wanted, n=1)] == ["12:30"]
    assert find_nearest([], wanted) == [] and find_nearest(slots, wanted, n=0) == []


def test_slot_is_free_refuses_off_grid_and_taken_starts() -> None:
    service, op = rules(), operator()
    start = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    assert slot_is_free(service, op, start, EARLY)
    assert slot_is_free(service, op, start.astimezone(ROME), EARLY)
    assert not slot_is_free(service, op, start + timedelta(minutes=10), EARLY)  # off the grid
    assert not slot_is_free(service, replace(op, busy=[(start, start + timedelta(hours=1))]), start, EARLY)
    assert slot_is_free(service, op, start, start)  # no notice required: bookable until it starts
    assert not slot_is_free(replace(service, min_notice_minutes=120), op, start, start - timedelta(hours=1))
