"""Shared by the booking pages (public, switchboard, agenda): links for the emails, slots grouped by day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from aiohttp import web

from scheduling.slots import Slot
from server import clock
from server.errors import InvalidInput
from web.links import absolute, join_url

DAYS_SHOWN = 14  # free days offered at once on a page
SLOTS_PER_DAY = 40


@dataclass(frozen=True)
class PageLinks:
    """Absolute links for the booking emails (:class:`scheduling.booking.Links`)."""

    app: web.Application

    def join(self, token: str) -> str:
        return join_url(self.app, token)

    def manage(self, token: str) -> str:
        return absolute(self.app, "booking_manage", token=token)

    def book_again(self) -> str:
        return absolute(self.app, "book")


@dataclass(frozen=True)
class SlotChoice:
    value: str  # the UTC instant, ISO 8601: what the form posts back
    label: str  # HH:MM, Europe/Rome
    operators: tuple[str, ...]


@dataclass(frozen=True)
class SlotDay:
    day: date
    slots: list[SlotChoice]


@dataclass(frozen=True)
class DayChoice:
    """The free days (for the day links) and the one whose slots the page shows."""

    days: list[SlotDay]
    chosen: SlotDay | None


def choose_day(days: list[SlotDay], *wanted: object) -> DayChoice:
    """The first of ``wanted`` (a ``YYYY-MM-DD`` or a posted slot value) that is a free day, else the soonest."""
    for raw in wanted:
        instant = parse_instant(raw)
        text = clock.local(instant).date().isoformat() if instant else str(raw or "")[:10]
        for day in days:
            if text and day.day.isoformat() == text:
                return DayChoice(days, day)
    return DayChoice(days, days[0] if days else None)


def slot_value(slot: Slot) -> str:
    return slot.starts_at.isoformat()


def by_day(slots: Sequence[Slot], *, limit_days: int = DAYS_SHOWN) -> list[SlotDay]:
    """Slots grouped by their Europe/Rome day, soonest first."""
    days: list[SlotDay] = []
    for slot in slots:
        start = clock.local(slot.starts_at)  # grouped by the Rome day (the posted UTC value may be the day before)
        if not days or days[-1].day != start.date():
            if len(days) == limit_days:
                break
            days.append(SlotDay(start.date(), []))
        if len(days[-1].slots) < SLOTS_PER_DAY:
            days[-1].slots.append(SlotChoice(slot_value(slot), f"{start:%H:%M}", slot.operator_ids))
    return days


def parse_instant(raw: object) -> datetime | None:
    """A posted slot value back to an aware datetime; None when missing or malformed."""
    text = str(raw or "").strip()
    if not text or len(text) > 40:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def group_token(token: str, size: int = 4) -> list[str]:
    """A link's token in groups, easier to dictate on the phone: its own dash-separated groups, if it has them."""
    if "-" in token:
        return [part for part in token.split("-") if part]
    return [token[i : i + size] for i in range(0, len(token), size)]


def field_errors(exc: InvalidInput) -> dict[str, str]:
    """The domain's error codes, under the form's field names."""
    errors = dict(exc.fields)
    if errors.get("verbal_consent") == "required":
        errors["verbal_consent"] = "consent"
    if errors.get("citizen_email") == "email_or_phone_required":
        errors["citizen_phone"] = "contact"
        del errors["citizen_email"]
    if "starts_at" in errors:
        errors["slot"] = errors.pop("starts_at")
    return errors
