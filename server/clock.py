"""The service's time zone, declared once: Europe/Rome, where the service is.

Rules people write (opening hours, availability, absences, team meetings) are wall-clock times there, and so is
every time people read (pages, emails, the API's ``local`` fields, the statistics' days and weeks); instants are
stored and compared in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

TIMEZONE = "Europe/Rome"  # the IANA name, as PostgreSQL's timezone() and the API's ``timezone`` field give it
ROME = ZoneInfo(TIMEZONE)


def local(when: datetime) -> datetime:
    """An instant as a wall-clock time in Rome."""
    return when.astimezone(ROME)


def today() -> date:
    """Today's date in Rome."""
    return datetime.now(ROME).date()


def instant(day: date, at: time) -> datetime:
    """The UTC instant of a wall-clock ``day`` and time ``at`` in Rome."""
    return datetime.combine(day, at, tzinfo=ROME).astimezone(UTC)
