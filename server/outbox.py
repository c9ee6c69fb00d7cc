"""Outgoing email, kept without a usable citizen link.

Rows are delivered by the outbox sender (:mod:`scheduling.jobs`): through SMTP when ``smtp_host`` is set, else
kept in the outbox table (status KEPT), where staff can read them. Booking emails are queued by
:mod:`scheduling.notify`, a fresh join link by :func:`enqueue`.

A citizen's link (a join token, a booking's manage token) never lies in a row in clear: the body and the ``.ics``
carry it *redacted* (``https://host/join/••••``, which is also what staff read on the outbox page), and the real
link is kept only sealed in ``sealed_links`` (AES-GCM with the application's keyring, bound to the row's id, see
:mod:`server.sealing`). The sender opens it, puts the link back in place of its redacted form just before handing
the email to SMTP, and then deletes the sealed value (also when the row finally fails), so once a row is done it
holds no link at all. Without SMTP the row *is* the delivery: it is kept redacted and its link dropped.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit import record
from server.errors import NotFound
from server.models import OutboxMessage, new_id
from server.sealing import Keyring, load_keyring
from server.settings import Settings

REDACTED = "••••"
PLACE = "outbox:{id}"  # the associated data of a row's sealed links: they open only in that row

# A citizen's secret in a link: the segment after /join/ or /booking/ (the API's /api/v1/bookings/ too).
_SECRET_SEGMENT = re.compile(r"(/join/|/booking/|/api/v1/bookings/)[^\s/?#\"'<>]+")

Links = list[tuple[str, str]]  # (redacted form, the real link), as kept sealed


def redact_link(link: str) -> str:
    """The link with its last path segment (the secret) replaced: ``https://host/join/••••``."""
    head, slash, _ = link.rpartition("/")
    return f"{head}{slash}{REDACTED}"


def redact_text(text: str) -> str:
    """Any citizen secret in links inside ``text`` replaced by ``••••`` (what staff pages show of a message)."""
    return _SECRET_SEGMENT.sub(lambda m: m.group(1) + REDACTED, text)


def placeholders(*links: str) -> Links:
    """(redacted form, link) for each non-empty link, the redacted forms made distinct (``••••2``...) so that
    each is put back as its own link."""
    pairs: Links = []
    for link in links:
        if not link:
            continue
        redacted, n = redact_link(link), 1
        while any(redacted == taken or taken.startswith(redacted) for taken, _ in pairs):
            n += 1
            redacted = f"{redact_link(link)}{n}"
        pairs.append((redacted, link))
    return pairs


def seal_links(keyring: Keyring, message_id: str, links: Links) -> str | None:
    """The sealed value of a row's links (None when there are none), bound to the row's id."""
    if not links:
        return None
    return keyring.seal(json.dumps(links), PLACE.format(id=message_id))


def open_links(keyring: Keyring, message: OutboxMessage) -> Links:
    """The row's links, opened (raises :class:`server.sealing.SealError` when they do not open)."""
    if not message.sealed_links:
        return []
    return [(str(a), str(b)) for a, b in json.loads(keyring.open(message.sealed_links, PLACE.format(id=message.id)))]


def put_links(text: str, links: Links) -> str:
    """``text`` with each redacted form replaced by its link (longest first: ``••••2`` before ``••••``)."""
    for redacted, link in sorted(links, key=lambda pair: len(pair[0]), reverse=True):
        text = text.replace(redacted, link)
    return text


def message(
    keyring: Keyring, links: Links, *, to: str, subject: str, body: str, ics: str | None = None, **values: object
) -> OutboxMessage:
    """A new outbox row whose ``body`` and ``ics`` already carry the redacted forms of ``links``: the links
    themselves go in sealed, bound to the row's id (given here, before the insert)."""
    message_id = new_id()
    return OutboxMessage(
        id=message_id,
        to_address=to,
        subject=subject,
        body=body,
        ics=ics,
        sealed_links=seal_links(keyring, message_id, links),
        **values,
    )


_KEYRINGS: OrderedDict[int, tuple[Settings, Keyring]] = OrderedDict()


def keyring_for(settings: Settings) -> Keyring:
    """The keyring of ``settings`` (the one the application loads at startup), loaded once per settings object:
    for code that seals links but is handed settings rather than the application (booking emails)."""
    found = _KEYRINGS.get(id(settings))
    if found is not None and found[0] is settings:
        return found[1]
    keyring = load_keyring(settings)
    remember_keyring(settings, keyring)
    return keyring


def remember_keyring(settings: Settings, keyring: Keyring) -> None:
    """Use ``keyring`` for ``settings`` (the application's, at startup), so it is not loaded twice."""
    _KEYRINGS[id(settings)] = (settings, keyring)
    while len(_KEYRINGS) > 16:  # a few applications per process (tests make one each)
        _KEYRINGS.popitem(last=False)


async def enqueue(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    to: str,
    subject: str,
    body: str,
    links: Sequence[tuple[str, str]] = (),
    consultation_id: str | None = None,
    actor: str,
) -> OutboxMessage:
    """Queue one email. ``body`` carries the redacted forms of ``links`` (see :func:`placeholders`)."""
    row = message(keyring, list(links), to=to, subject=subject, body=body, consultation_id=consultation_id)
    async with sessionmaker.begin() as db:
        db.add(row)
        await db.flush()
        record(db, actor, "email", "outbox", row.id)
    return row


async def for_consultation(sessionmaker: async_sessionmaker[AsyncSession], consultation_id: str) -> list[OutboxMessage]:
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.consultation_id == consultation_id)
            .order_by(OutboxMessage.created_at)
        )
        return list(rows)


async def latest(sessionmaker: async_sessionmaker[AsyncSession], limit: int = 200) -> list[OutboxMessage]:
    """The newest rows first, for the staff's outbox page (which shows no bodies)."""
    async with sessionmaker() as db:
        rows = await db.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit))
        return list(rows)


async def read_message(sessionmaker: async_sessionmaker[AsyncSession], message_id: str, actor: str) -> OutboxMessage:
    """One row as staff read it (audited ``read``); its body still holds the links redacted."""
    async with sessionmaker.begin() as db:
        row = await db.get(OutboxMessage, message_id)
        if row is None:
            raise NotFound("no such message")
        record(db, actor, "read", "outbox", message_id)
    return row
