"""iCalendar (RFC 5545) files for bookings, attached to the citizen's emails.

The event is deliberately neutral: its title is "Appuntamento"/"Appointment" and nothing in it names the service,
because a calendar entry is often seen by others (a shared family calendar, a phone's lock screen). The join link
is the citizen's own link; an outbox row keeps the ``.ics`` with the link redacted (:mod:`server.outbox`), and
:func:`with_links` puts the real one back just before sending. The UID is stable per booking so that a calendar
updates the same entry when the session is moved (a higher SEQUENCE) or cancelled (METHOD:CANCEL).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from icalendar.prop import vCalAddress, vDDDTypes, vInt, vText, vUri

from scheduling import email_texts
from server.models import Booking
from server.outbox import Links, put_links

PRODID = "-//Appointments//Booking//IT"  # neutral too: the product name says what the service is


def booking_uid(booking_id: str) -> str:
    """The stable UID of a booking's event."""
    return f"booking-{booking_id}@appointments"


def booking_ics(
    booking: Booking,
    *,
    join_link: str,
    lang: str = "it",
    sequence: int = 0,
    cancel: bool = False,
    organizer: str = "",
    now: datetime | None = None,
) -> str:
    """The text of a ``.ics`` file with one VEVENT for ``booking``.

    ``sequence`` must grow with every change of the booking (0 when first booked); ``cancel`` makes it a
    METHOD:CANCEL message with STATUS:CANCELLED, which tells a calendar to remove the entry.

    Every booking's confirmation carries one, so it is written line by line: the values are encoded by
    ``icalendar``'s property types, the lines folded here (a Calendar object tree costs several times more to
    serialise, and it would always have this one shape)."""
    t = email_texts.texts(lang)
    event: list[tuple[str, vText | vDDDTypes | vInt | vUri | vCalAddress]] = [
        ("UID", vText(booking_uid(booking.id))),
        ("DTSTAMP", vDDDTypes((now or datetime.now(UTC)).astimezone(UTC))),
        ("DTSTART", vDDDTypes(booking.starts_at.astimezone(UTC))),
        ("DTEND", vDDDTypes(booking.ends_at.astimezone(UTC))),
        ("SEQUENCE", vInt(sequence)),
        ("SUMMARY", vText(t["calendar_summary"])),
    ]
    if join_link and not cancel:
        event += [("URL", vUri(join_link)), ("DESCRIPTION", vText(t["calendar_description"].format(link=join_link)))]
    event.append(("STATUS", vText("CANCELLED" if cancel else "CONFIRMED")))
    if organizer:
        event.append(("ORGANIZER", vCalAddress(f"mailto:{organizer}")))
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{vText(PRODID).to_ical().decode()}",
        "VERSION:2.0",
        f"METHOD:{'CANCEL' if cancel else 'PUBLISH'}",
        "BEGIN:VEVENT",
        *(f"{name}:{value.to_ical().decode()}" for name, value in event),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_folded(line) for line in lines)


def _folded(line: str, limit: int = 75) -> str:
    """A content line folded at ``limit`` octets (RFC 5545 3.1), never inside a UTF-8 character, with its CRLF."""
    data = line.encode()
    if len(data) <= limit:
        return line + "\r\n"
    parts, start, room = [], 0, limit
    while start < len(data):
        end = min(start + room, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            end -= 1
        parts.append(data[start:end].decode())
        start, room = end, limit - 1  # continuation lines start with a space
    return "\r\n ".join(parts) + "\r\n"


_FOLD = re.compile(r"\r?\n[ \t]")


def with_links(ics: str, links: Links) -> str:
    """The calendar text with the redacted links replaced by the real ones: unfolded first (a link may be split
    over two lines), then folded again, so the lines stay within 75 octets."""
    if not links:
        return ics
    return "".join(_folded(put_links(line, links)) for line in _FOLD.sub("", ics).splitlines())


def ics_method(ics: str) -> str:
    """The METHOD of a calendar text (PUBLISH when absent), for the attachment's content type."""
    for line in ics.splitlines():
        if line.upper().startswith("METHOD:"):
            return line.split(":", 1)[1].strip().upper()
    return "PUBLISH"
