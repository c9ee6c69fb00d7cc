"""Parsing what people type in the staff's forms. Each parser returns a value or raises ValueError with the error
key shown next to the field; :class:`FormErrors` collects those keys instead of raising."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, time
from itertools import pairwise
from typing import ParamSpec, TypeVar

from multidict import MultiMapping

from scheduling.services import Hours

P = ParamSpec("P")
T = TypeVar("T")
WEEKDAYS = range(7)
_RANGE = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-–]\s*(\d{1,2})[:.](\d{2})\s*$")


@dataclass
class FormErrors:
    """Field -> error key; ``check`` runs a parser and keeps its error instead of raising."""

    fields: dict[str, str]

    def check(self, field: str, parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        try:
            return parse(*args, **kwargs)
        except ValueError as exc:
            self.fields[field] = str(exc)
            return None


def parse_int(raw: object, low: int, high: int) -> int:
    text = str(raw or "").strip()
    if not text:
        raise ValueError("required")
    if not text.isdigit():
        raise ValueError("not_a_number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError("out_of_range")
    return value


def parse_time(raw: object) -> time:
    text = str(raw or "").strip()
    if not text:
        raise ValueError("required")
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", text)
    if not match:
        raise ValueError("bad_time")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError("bad_time")
    return time(hour, minute)


def parse_date(raw: object) -> date:
    text = str(raw or "").strip()
    if not text:
        raise ValueError("required")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("bad_date") from None


def parse_ranges(raw: object) -> list[tuple[time, time]]:
    """``"09:30-13:00, 14:00-18:00"`` -> sorted, non-overlapping local ranges; empty text: none."""
    text = str(raw or "").strip()
    if not text:
        return []
    ranges: list[tuple[time, time]] = []
    for part in re.split(r"[,;]", text):
        match = _RANGE.match(part)
        if not match:
            raise ValueError("bad_ranges")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError("bad_ranges")
        start, end = time(h1, m1), time(h2, m2)
        if end <= start:
            raise ValueError("range_order")
        ranges.append((start, end))
    ranges.sort()
    if any(later[0] < earlier[1] for earlier, later in pairwise(ranges)):
        raise ValueError("range_overlap")
    return ranges


def format_ranges(ranges: Iterable[tuple[time, time]]) -> str:
    return ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in ranges)


def parse_week(form: MultiMapping[object]) -> tuple[Hours, dict[str, str], dict[str, str]]:
    """Seven fields ``day0``..``day6`` of ranges -> (ranges by weekday, what was typed, errors)."""
    errors = FormErrors({})
    typed = {f"day{d}": str(form.get(f"day{d}", "")).strip() for d in WEEKDAYS}
    week = {d: errors.check(f"day{d}", parse_ranges, typed[f"day{d}"]) or [] for d in WEEKDAYS}
    return week, typed, errors.fields
