"""``slots_compute_ms``: free slots of one service with 30 operators over 60 days with 2,000 existing bookings.

Inputs are built in memory (the loader's database time is not what this measures). Each run starts with the
wall-clock conversion cache cleared, so the figure is what a fresh request pays, not a warmed-up best case.
"""

from __future__ import annotations

import random
import statistics
import time as clock
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from scheduling import slots
from scheduling.slots import OperatorSchedule, Ranges, ServiceRules, free_slots, local_day
from tests.bench import report

OPERATORS = 30
DAYS = 60
BOOKINGS = 2_000
RUNS = 9
NOW = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # Monday; the window crosses the spring DST change


def build_inputs(seed: int = 3) -> tuple[ServiceRules, list[OperatorSchedule]]:
    """Mon-Sat 9:30-18:00, 45 + 15 minutes, and 2,000 bookings spread over the operators' free grid slots."""
    rng = random.Random(seed)
    opening: dict[int, Ranges] = {weekday: ((time(9, 30), time(18, 0)),) for weekday in range(6)}
    rules = ServiceRules(45, 15, 120, DAYS, opening, frozenset({date(2026, 4, 6), date(2026, 4, 25)}))
    grid = [s.starts_at for s in free_slots(rules, [_schedule("x", opening, [])], NOW)]
    taken = rng.sample([(op, start) for op in range(OPERATORS) for start in grid], BOOKINGS)
    busy: dict[int, list[tuple[datetime, datetime]]] = {op: [] for op in range(OPERATORS)}
    for op, start in taken:
        busy[op].append((start, start + timedelta(minutes=60)))
    operators = []
    for op in range(OPERATORS):
        mornings: dict[int, Ranges] = {weekday: ((time(9, 30), time(13, 30)),) for weekday in range(5)}
        weekly = opening if op % 3 else mornings
        absences: dict[date, list[tuple[time, time] | None]] = {
            NOW.date() + timedelta(days=rng.randrange(DAYS)): [None]
        }
        schedule = _schedule(f"op{op:02d}", weekly, busy[op])
        operators.append(replace(schedule, absences=absences, daily_cap=6 if op % 2 else None))
    return rules, operators


def _schedule(
    operator_id: str, weekly: Mapping[int, Ranges], busy: list[tuple[datetime, datetime]]
) -> OperatorSchedule:
    per_day: dict[date, int] = {}
    for start, _ in busy:
        per_day[local_day(start)] = per_day.get(local_day(start), 0) + 1
    return OperatorSchedule(operator_id, weekly, {}, {}, None, sorted(busy), per_day)


def measure(rules: ServiceRules, operators: list[OperatorSchedule], runs: int = RUNS) -> tuple[float, int]:
    """The median time of ``runs`` computations in milliseconds, and the number of slots found."""
    times = []
    found = 0
    for _ in range(runs):
        slots._wall_epoch.cache_clear()
        started = clock.perf_counter()
        found = len(free_slots(rules, operators, NOW))
        times.append((clock.perf_counter() - started) * 1000)
    return statistics.median(times), found


async def main() -> None:
    rules, operators = build_inputs()
    ms, found = measure(rules, operators)
    print(f"# {OPERATORS} operators, {DAYS} days, {BOOKINGS} bookings: {found} free slots", flush=True)
    report("slots_compute_ms", ms, "ms", "<=", 50)
