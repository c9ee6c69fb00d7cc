"""The .ics of a booking: neutral, stable per booking, UTC times, the citizen's link, updates and cancellations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from scheduling.ics import _folded, booking_ics, booking_uid, ics_method
from scheduling.notify import render, when_text
from server.models import Booking, BookingMode
from server.settings import Settings

START = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)  # Monday 7 December, 10:30 in Rome


def booking(mode: BookingMode = BookingMode.VIDEO) -> Booking:
    return Booking(
        id="b1",
        service_id="s",
        citizen_name="Maria",
        mode=mode,
        starts_at=START,
        ends_at=START + timedelta(minutes=45),
    )


def event_of(text: str) -> icalendar.Event:
    calendar = icalendar.Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    return event


def test_the_event_is_neutral_in_utc_and_carries_the_join_link() -> None:
    text = booking_ics(booking(), join_link="https://a.example/join/tok", organizer="noreply@a.example")
    assert ics_method(text) == "PUBLISH"
    event = event_of(text)
    assert str(event["uid"]) == booking_uid("b1")
    assert event.decoded("dtstart") == START and event.decoded("dtstart").utcoffset() == timedelta(0)
    assert event.decoded("dtend") == START + timedelta(minutes=45)
    assert "DTSTART:20261207T093000Z" in text
    assert str(event["summary"]) == "Appuntamento"
    assert str(event["url"]) == "https://a.example/join/tok"
    assert "https://a.example/join/tok" in str(event["description"])
    assert event["sequence"] == 0
    assert "ascolto" not in text.lower() and "psicolog" not in text.lower()


def test_moves_bump_the_sequence_and_cancellations_cancel_the_same_uid() -> None:
    moved = event_of(booking_ics(booking(), join_link="j", sequence=2, lang="en"))
    assert moved["sequence"] == 2 and str(moved["summary"]) == "Appointment"
    cancelled_text = booking_ics(booking(), join_link="j", sequence=3, cancel=True)
    assert ics_method(cancelled_text) == "CANCEL"
    cancelled = event_of(cancelled_text)
    assert str(cancelled["uid"]) == booking_uid("b1")
    assert str(cancelled["status"]) == "CANCELLED"
    assert "url" not in cancelled


def test_the_time_is_written_in_rome_time_and_says_so() -> None:
    assert when_text(START) == "lunedì 7 dicembre, 10:30 (ora di Roma)"
    assert when_text(START, "en") == "Monday 7 December, 10:30 (Rome time)"
    summer = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)
    assert when_text(summer) == "lunedì 6 luglio, 10:00 (ora di Roma)"
    assert when_text(START, "xx") == when_text(START)


def test_the_emails_give_the_links_and_the_numbers_to_call() -> None:
    settings = Settings(service_phone="02 0202", emergency_number="112")
    subject, body = render(
        "confirmation", booking(), settings, phone="02 0202", lang="it", join_link="J-LINK", link="M-LINK"
    )
    assert subject == "Il suo appuntamento è confermato"
    for expected in ("Maria", "J-LINK", "M-LINK", "02 0202", "112", "(ora di Roma)"):
        assert expected in body
    _, phone_body = render("reminder", booking(BookingMode.PHONE), settings, phone="02 0202", lang="en", link="M")
    assert "We will call you" in phone_body and "J-LINK" not in phone_body
    _, cancelled = render("cancellation", booking(), settings, phone="02 0202", lang="it", join_link="J-LINK")
    assert "annullato" in cancelled and "J-LINK" not in cancelled


def test_long_lines_are_folded_at_75_octets_and_read_back_whole() -> None:
    link = "https://ascolto.comune.example.it/join/" + "ABCD-" * 30 + "Z"
    text = booking_ics(booking(), join_link=link, organizer="noreply@ascolto.comune.example.it")
    assert text.endswith("\r\n") and all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    event = event_of(text)
    assert str(event["url"]) == link and link in str(event["description"])
    # Folding never cuts inside a character (a multi-byte one straddling the limit).
    line = "DESCRIPTION:" + "è" * 100
    folded = _folded(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "").removesuffix("\r\n") == line
