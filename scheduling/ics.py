"""iCalendar (RFC 5545) files for bookings, attached to the citizen's emails.

The event is deliberately neutral: its title is "Appuntamento"/"Appointment" and nothing in it names the service,
because a calendar entry is often seen by others (a shared family calendar, a phone's lock screen). The join link
is the citizen's own link. The UID is stable per booking so that a calendar updates the same entry when the
session is moved (a higher SEQUENCE) or cancelled (METHOD:CANCEL).
"""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event

from server.models import Booking

SUMMARY = {"it": "Appuntamento", "en": "Appointment"}
DESCRIPTION = {
    "it": "Link per collegarsi: {link}",
    "en": "Link to join: {link}",
}
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
    """
    lang = lang if lang in SUMMARY else "it"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancel else "PUBLISH")
    event = Event()
    event.add("uid", booking_uid(booking.id))
    event.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", booking.starts_at.astimezone(UTC))
    event.add("dtend", booking.ends_at.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", SUMMARY[lang])
    if join_link and not cancel:
        event.add("url", join_link)
        event.add("description", DESCRIPTION[lang].format(link=join_link))
    event.add("status", "CANCELLED" if cancel else "CONFIRMED")
    if organizer:
        event.add("organizer", f"mailto:{organizer}")
    calendar.add_component(event)
    return calendar.to_ical().decode()


def ics_method(ics: str) -> str:
    """The METHOD of a calendar text (PUBLISH when absent), for the attachment's content type."""
    for line in ics.splitlines():
        if line.upper().startswith("METHOD:"):
            return line.split(":", 1)[1].strip().upper()
    return "PUBLISH"
