"""What emails a booking causes: a confirmation (with an ``.ics``), reminders, a cancellation, a move.

The emails are ``outbox`` rows written in the transaction of the booking change they describe (a new booking's
are returned by :func:`booking_emails` and written with its other rows), so they commit or roll back with it;
:mod:`scheduling.jobs` sends them when due. The text is put together here, once, in the citizen's language
(Italian by default; the texts themselves are in :mod:`scheduling.email_texts`), plain and calm, with the time in
Europe/Rome and the numbers to call.
Bookings made with only a phone number get no email.

The rows hold no usable link: the text and the ``.ics`` carry the join and manage links redacted
(``https://host/join/••••``) and the links themselves are sealed in the row, bound to its id (:mod:`server.outbox`);
the sender puts them in at send time and drops them once the email is gone. Reminders are written with the
booking and keep the same sealed links until their time: they carry the link the citizen already holds, and a
move or a cancellation deletes them with the pending reminders (a move queues new ones with the new link).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.dates import format_datetime
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduling import email_texts
from scheduling.ics import booking_ics
from server import outbox
from server.clock import ROME
from server.db import insert_now
from server.models import Booking, BookingMode, OutboxMessage, OutboxStatus, Service, utcnow
from server.settings import Settings

REMINDER_PREFIX = "reminder_"


@functools.lru_cache(maxsize=1024)
def when_text(at: datetime, lang: str = "it") -> str:
    """E.g. "lunedì 7 dicembre, 10:30 (ora di Roma)": the local time of an instant, saying whose time it is.
    Cached: one booking's emails all give its time, and formatting a date with Babel is not cheap."""
    lang = email_texts.language(lang)
    local = format_datetime(at, "EEEE d MMMM, HH:mm", tzinfo=ROME, locale=lang)
    return f"{local} {email_texts.texts(lang)['rome']}"


def render(
    kind: str, booking: Booking, settings: Settings, *, phone: str, lang: str, join_link: str = "", link: str = ""
) -> tuple[str, str]:
    """(subject, body) of one email. ``kind``: confirmation, reminder, moved or cancellation; ``link`` is the
    manage link (or, for a cancellation, where to book again; may be empty)."""
    t = email_texts.texts(lang)
    paragraphs = [
        t["greeting"].format(name=booking.citizen_name).replace(" ,", ","),
        t[f"intro_{kind}"].format(when=when_text(booking.starts_at, lang)),
    ]
    if kind != "cancellation":
        paragraphs.append(t["phone"] if booking.mode == BookingMode.PHONE else t["video"].format(link=join_link))
        if link:
            paragraphs.append(t["manage"].format(link=link))
    elif link:
        paragraphs.append(t["again"].format(link=link))
    paragraphs.append(t["help"].format(phone=phone) + "\n" + t["emergency"].format(emergency=settings.emergency_number))
    paragraphs.append(settings.service_name)
    return t[kind], "\n\n".join(paragraphs) + "\n"


def link_email(lang: str, settings: Settings, *, name: str, link: str) -> tuple[str, str]:
    """(subject, body) of the email with a fresh join link that an operator sends from a consultation's page."""
    t = email_texts.texts(lang)
    service = settings.service_name
    body = t["link_body"].format(name=name, link=link, service=service, phone=settings.service_phone)
    return t["link_subject"].format(service=service), body


async def _phone(db: AsyncSession, settings: Settings, booking: Booking) -> str:
    """The service's own phone when it has one, else the platform's."""
    phone = await db.scalar(select(Service.phone).where(Service.id == booking.service_id))
    return phone or settings.service_phone


@dataclass(frozen=True)
class _Links:
    """A message's links: the real ones, sealed in its row, and their redacted forms, written in its text."""

    sealed: outbox.Links
    join: str = ""  # redacted
    manage: str = ""  # redacted

    @classmethod
    def of(cls, join_link: str, manage_link: str) -> _Links:
        sealed = outbox.placeholders(join_link, manage_link)
        redacted = {link: shown for shown, link in sealed}
        return cls(sealed, redacted.get(join_link, ""), redacted.get(manage_link, ""))


def _message(
    settings: Settings,
    booking: Booking,
    kind: str,
    text: tuple[str, str],
    send_after: datetime,
    *,
    links: _Links | None = None,
    ics: str | None = None,
) -> OutboxMessage:
    """One row: ``text`` (subject, body) and ``ics`` hold the redacted forms of ``links``, which go in sealed."""
    subject, body = text
    return outbox.message(
        outbox.keyring_for(settings), links.sealed if links else [], to=booking.citizen_email, subject=subject,
        body=body, ics=ics, kind=kind, booking_id=booking.id, consultation_id=booking.consultation_id,
        status=OutboxStatus.PENDING, send_after=send_after,
    )  # fmt: skip


def _reminders(
    settings: Settings, booking: Booking, *, phone: str, lang: str, links: _Links, now: datetime
) -> list[OutboxMessage]:
    """One reminder per ``settings.reminder_hours``, due that long before the start; past ones are skipped. Each
    keeps the announcement's links (sealed) until its time: the link the citizen already holds."""
    text = render("reminder", booking, settings, phone=phone, lang=lang, join_link=links.join, link=links.manage)
    reminders = []
    for hours in sorted(set(settings.reminder_hours), reverse=True):
        due = booking.starts_at - timedelta(hours=hours)
        if due > now:
            reminders.append(_message(settings, booking, f"{REMINDER_PREFIX}{hours}h", text, due, links=links))
    return reminders


async def _drop_pending(db: AsyncSession, booking_id: str) -> None:
    """Delete the booking's reminders not yet sent (a reminder being sent right now is dropped by the sender)."""
    await db.execute(
        delete(OutboxMessage).where(
            OutboxMessage.booking_id == booking_id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.kind.startswith(REMINDER_PREFIX),
        )
    )


async def _next_sequence(db: AsyncSession, booking_id: str) -> int:
    """The iCalendar SEQUENCE of the next change: one more than the changes already emailed."""
    changes = await db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.booking_id == booking_id, OutboxMessage.kind.in_(("moved", "cancellation")))
    )
    return int(changes or 0) + 1


def _announcement(
    settings: Settings,
    booking: Booking,
    kind: str,
    sequence: int,
    *,
    phone: str,
    join_link: str,
    manage_link: str,
    lang: str,
    now: datetime,
) -> list[OutboxMessage]:
    """The email that gives the citizen a (new) time, due now with its ``.ics``, and that time's reminders (the
    links written redacted, kept sealed)."""
    links = _Links.of(join_link, manage_link)
    text = render(kind, booking, settings, phone=phone, lang=lang, join_link=links.join, link=links.manage)
    ics = booking_ics(
        booking, join_link=links.join, lang=lang, sequence=sequence, organizer=settings.mail_from, now=now
    )
    reminders = _reminders(settings, booking, phone=phone, lang=lang, links=links, now=now)
    return [_message(settings, booking, kind, text, now, links=links, ics=ics), *reminders]


def booking_emails(
    settings: Settings,
    booking: Booking,
    service: Service,
    *,
    join_link: str,
    manage_link: str,
    lang: str = "it",
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """The outbox rows of a new booking of ``service``: the confirmation (due now, with the ``.ics``) and the
    reminders; none when the citizen gave no email. The caller writes them with the booking."""
    if not booking.citizen_email:
        return []
    return _announcement(
        settings, booking, "confirmation", 0, phone=service.phone or settings.service_phone, join_link=join_link,
        manage_link=manage_link, lang=lang, now=now or utcnow(),
    )  # fmt: skip


async def enqueue_moved(
    db: AsyncSession,
    settings: Settings,
    booking: Booking,
    *,
    join_link: str,
    manage_link: str,
    lang: str = "it",
    now: datetime | None = None,
) -> None:
    """After ``booking`` got its new time: drop its pending reminders, email the new time (an ``.ics`` with a
    higher SEQUENCE, so calendars update the same entry) and add new reminders."""
    await _drop_pending(db, booking.id)
    if not booking.citizen_email:
        return
    sequence = await _next_sequence(db, booking.id)
    phone = await _phone(db, settings, booking)
    emails = _announcement(
        settings, booking, "moved", sequence, phone=phone, join_link=join_link, manage_link=manage_link, lang=lang,
        now=now or utcnow(),
    )  # fmt: skip
    await insert_now(db, *emails)


async def enqueue_cancellation(
    db: AsyncSession,
    settings: Settings,
    booking: Booking,
    *,
    book_again_link: str = "",
    lang: str = "it",
    now: datetime | None = None,
) -> None:
    """After ``booking`` was cancelled: drop its pending reminders and email the cancellation (an ``.ics`` with
    METHOD:CANCEL, so calendars remove the entry)."""
    await _drop_pending(db, booking.id)
    if not booking.citizen_email:
        return
    now = now or utcnow()
    phone = await _phone(db, settings, booking)
    sequence = await _next_sequence(db, booking.id)
    text = render("cancellation", booking, settings, phone=phone, lang=lang, link=book_again_link)
    ics = booking_ics(
        booking, join_link="", lang=lang, sequence=sequence, cancel=True, organizer=settings.mail_from, now=now
    )
    await insert_now(db, _message(settings, booking, "cancellation", text, now, ics=ics))
