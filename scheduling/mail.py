"""Email delivery: through SMTP (``aiosmtplib``) when a server is configured, else kept in the outbox.

A :class:`Mailer` delivers one :class:`Outgoing` email, made from an outbox row at send time with the row's sealed
links put back in (:func:`outgoing`); :attr:`Mailer.delivered` is the status the row gets once that succeeded:
SENT for SMTP, KEPT when there is no SMTP server (the embedded default), where the row itself is the delivery and
staff read it in the outbox page, with its links redacted. Nothing here logs addresses, subjects or bodies, and an
:class:`Outgoing` is never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

import aiosmtplib

from scheduling.ics import ics_method, with_links
from server.models import OutboxMessage, OutboxStatus, utcnow
from server.outbox import Links, put_links
from server.settings import Settings

SMTP_TIMEOUT_SECONDS = 30.0

# What a failed delivery raises: SMTP refusals, a server that is down or unreachable, a timeout.
DELIVERY_ERRORS: tuple[type[Exception], ...] = (aiosmtplib.SMTPException, OSError, TimeoutError)


@dataclass(frozen=True)
class Outgoing:
    """One email as it leaves: an outbox row's text with its links put back in. Held in memory only."""

    id: str
    to_address: str
    subject: str
    body: str
    ics: str | None = None


def outgoing(message: OutboxMessage, links: Links) -> Outgoing:
    """The email of ``message`` with ``links`` (opened from the row's seal) in place of their redacted forms."""
    return Outgoing(
        id=message.id,
        to_address=message.to_address,
        subject=message.subject,
        body=put_links(message.body, links),
        ics=with_links(message.ics, links) if message.ics else message.ics,
    )


class Mailer(Protocol):
    """Delivers outgoing emails. ``deliver`` raises one of :data:`DELIVERY_ERRORS` when it could not."""

    @property
    def delivered(self) -> OutboxStatus: ...

    async def deliver(self, message: Outgoing) -> None: ...


def build_email(message: Outgoing, sender: str) -> EmailMessage:
    """A plain-text email with the row's ``.ics`` attached as ``text/calendar`` with its METHOD."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(utcnow())
    domain = sender.rpartition("@")[2] or "localhost"
    email["Message-ID"] = make_msgid(idstring=message.id, domain=domain)
    email.set_content(message.body)
    if message.ics:
        email.add_attachment(
            message.ics.encode(),
            maintype="text",
            subtype="calendar",
            filename="appuntamento.ics",
            params={"method": ics_method(message.ics)},
        )
    return email


class SmtpMailer:
    """One SMTP connection per message: reminders are few, and a fresh connection survives server restarts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def delivered(self) -> OutboxStatus:
        return OutboxStatus.SENT

    async def deliver(self, message: Outgoing) -> None:
        s = self.settings
        await aiosmtplib.send(
            build_email(message, s.mail_from),
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            start_tls=s.smtp_starttls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )


class KeepingMailer:
    """No SMTP server configured: the outbox row is the delivery, marked KEPT for staff to read (redacted: the
    citizen's link is not kept, so staff cannot pass it on; they give the citizen a new link if needed)."""

    @property
    def delivered(self) -> OutboxStatus:
        return OutboxStatus.KEPT

    async def deliver(self, message: Outgoing) -> None:
        return None


def mailer_for(settings: Settings) -> Mailer:
    """SMTP when ``smtp_host`` is set, else keep messages in the outbox."""
    if settings.smtp_host:
        return SmtpMailer(settings)
    return KeepingMailer()
