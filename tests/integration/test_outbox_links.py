"""No usable citizen link at rest or on a staff page (issue 11, defect 2).

Outbox rows hold the citizen's join and manage links redacted (``.../join/••••``); the real links are sealed in the
row (bound to its id) until the email is sent, put in at send time, then dropped. The coordinator's outbox pages
show them redacted; the email that reaches the citizen through SMTP carries links that work.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
from alembic import command
from sqlalchemy import Connection, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduling.jobs import run_once
from scheduling.mail import KeepingMailer, SmtpMailer
from server.db import _alembic_config, create_engine, migrate
from server.identity import CITIZEN_COOKIE
from server.keys import engine_key, keyring_key, sessionmaker_key, settings_key
from server.models import Booking, Consultation, OutboxMessage, OutboxStatus, Role
from server.outbox import keyring_for, open_links
from server.settings import Settings
from tests.helpers.booking import JOIN, MANAGE, public_form
from tests.helpers.factories import make_consultation, make_staff, open_service, seed_booking
from tests.helpers.mail import SmtpSink, enqueue_booking_emails, outbox, smtp_server
from tests.helpers.ports import free_port
from tests.helpers.services import open_db
from tests.helpers.web import Client, MakeClient, coordinator_login, login

# A run of the tokens' alphabets (base32 join tokens with dashes, base64url manage tokens) long enough to be one.
TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]{20,}")
ROW_IDS = ("id", "booking_id", "consultation_id")
LINK = re.compile(r"https?://\S+/(?:join|booking)/\S+")


async def raw(engine: AsyncEngine, table: str) -> list[dict[str, Any]]:
    """The table's rows as the database holds them (plain SQL, no model in between)."""
    async with engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(text(f"SELECT * FROM {table}"))]


def assert_no_token(rows: Iterable[dict[str, Any]], tokens: Iterable[str], *, runs: bool = True) -> None:
    """No token (in any spelling) in any column, and (``runs``: outbox rows) no token-like run outside the row's
    own ids and its sealed links (a sealed value is base64url: it is checked not to hold a token, and that it opens
    only with the key and in its own row by the other tests)."""
    tokens = [t for token in tokens for t in (token, token.replace("-", ""))]
    for row in rows:
        ids = [str(row[name]) for name in ROW_IDS if row.get(name)]
        for column, value in row.items():
            if not isinstance(value, str):
                continue
            for token in tokens:
                assert token not in value, f"a token in outbox.{column}"
            if not runs or column in ROW_IDS or column == "sealed_links":
                continue
            for row_id in ids:
                value = value.replace(row_id, "")
            run = TOKEN_RUN.search(value)
            assert run is None, f"a token-like run in {column}: {run.group(0) if run else ''}"


async def slots_after(client: Client, days: int) -> tuple[str, list[str]]:
    """The form's CSRF token and the free slots of the first open day at least ``days`` days ahead (holidays such
    as 7 and 8 December in Milan are closed)."""
    for ahead in range(days, days + 10):
        day = (datetime.now(UTC) + timedelta(days=ahead)).date().isoformat()
        csrf, slots = await public_form(client, day=day)
        if slots and slots[-1].startswith(day):
            return csrf, slots
    raise AssertionError("no open day")


async def book_two_days_ahead(client: Client) -> tuple[str, str]:
    """A public booking (with an email) two days ahead, so both reminders are queued: (join link, manage link)."""
    csrf, slots = await slots_after(client, 2)
    data = {"csrf_token": csrf, "slot": slots[-1], "mode": "video", "citizen_name": "Luca", "privacy_accepted": "on"}
    response = await client.post("/book/emergenza", data={**data, "citizen_email": "luca@example.org"})
    assert response.status == 201, await response.text()
    html = await response.text()
    join, manage = JOIN.search(html), MANAGE.search(html)
    assert join and manage
    return join.group(1), f"http://127.0.0.1:{client.port}{manage.group(1)}"


async def email_a_new_link(client: Client) -> str:
    """An operator emails a citizen a fresh link; the link the operator's page shows."""
    operator = await make_staff(client.app, role=Role.OPERATOR, name="Dott. Neri")
    new = await make_consultation(client.app, operator, citizen_email="maria@example.org")
    csrf = await login(client, operator)
    response = await client.post(f"/console/consultations/{new.consultation.id}/email", data={"csrf_token": csrf})
    assert response.status == 200
    found = re.search(r'id="join-link"[^>]*value="(http://[^"]+/join/[^"]+)"', await response.text())
    assert found
    return found.group(1)


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


async def test_outbox_rows_hold_no_usable_token(make_client: MakeClient) -> None:
    """Booking confirmation (and its .ics), reminders, a move and email-the-link: no token in any row, before or
    after sending, nor in the audit log."""
    client = await make_client()
    await open_service(client.app)
    await make_staff(client.app, role=Role.OPERATOR)
    join, manage = await book_two_days_ahead(client)
    _, slots = await slots_after(client, 3)
    moved = await client.post(f"/api/v1/bookings/{token_of(manage)}/move", json={"starts_at": slots[0]})
    assert moved.status == 200, await moved.text()
    new_join = (await moved.json())["join_link"]
    emailed = await email_a_new_link(client)
    tokens = [token_of(link) for link in (join, manage, new_join, emailed)]

    engine = client.app[engine_key]
    rows = await raw(engine, "outbox")
    kinds = sorted(row["kind"] for row in rows)
    assert kinds == ["confirmation", "message", "moved", "reminder_1h", "reminder_24h"]  # the first reminders went
    assert_no_token(rows, tokens)
    assert any(row["ics"] and "/join/••••" in row["ics"].replace("\r\n ", "") for row in rows)  # the .ics too
    await run_once(client.app[sessionmaker_key], client.app[settings_key], KeepingMailer())
    assert_no_token(await raw(engine, "outbox"), tokens)
    assert_no_token(await raw(engine, "audit_event"), tokens, runs=False)  # its rows name ids only


async def test_outbox_page_shows_links_redacted(make_client: MakeClient) -> None:
    client = await make_client()
    await open_service(client.app)
    await make_staff(client.app, role=Role.OPERATOR)
    join, manage = await book_two_days_ahead(client)
    emailed = await email_a_new_link(client)
    # A row that holds a link in clear all the same (written before migration 0008 by another path): still redacted.
    async with client.app[sessionmaker_key].begin() as db:
        db.add(OutboxMessage(to_address="anna@example.org", subject="Vecchio", body=f"Link: {emailed}x\n"))
    client.session.cookie_jar.clear()
    await coordinator_login(client)
    tokens = [token_of(link) for link in (join, manage, emailed)] + [f"{token_of(emailed)}x"]

    listing = await (await client.get("/console/outbox")).text()
    assert "luca@example.org" in listing and "Il suo appuntamento è confermato" in listing
    assert "maria@example.org" in listing and "anna@example.org" in listing
    async with client.app[sessionmaker_key]() as db:
        messages = list(await db.scalars(select(OutboxMessage)))
    for message in messages:
        page = await (await client.get(f"/console/outbox/{message.id}")).text()
        for token in tokens:
            assert token not in page and token not in listing
        if message.kind == "confirmation":
            assert f"http://127.0.0.1:{client.port}/join/••••" in page
            assert f"http://127.0.0.1:{client.port}/booking/••••" in page
        if message.subject == "Vecchio":
            assert "/join/••••" in page


async def wait_for(sink: SmtpSink, count: int) -> None:
    for _ in range(200):
        if len(sink.messages) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{len(sink.messages)} of {count} emails arrived")


def links_in(message: Any) -> list[str]:
    body = message.get_body(("plain",))
    assert body is not None
    return LINK.findall(body.get_content())


async def open_as_citizen(client: Client, link: str) -> bool:
    """Open a join link like the citizen's browser; True when it let them into the call page."""
    client.session.cookie_jar.clear()
    response = await client.get(link.split(str(client.port), 1)[1], allow_redirects=False)
    if response.cookies.get(CITIZEN_COOKIE) is None:
        return False
    call = await client.get(response.headers["Location"])
    return call.status == 200


async def test_smtp_delivery_carries_the_working_link(make_client: MakeClient) -> None:
    """Through a real SMTP server: the confirmation (and its .ics), the reminder and an emailed link carry the
    citizen's real links, which open the call page and the manage page."""
    with smtp_server() as (port, sink):
        client = await make_client(smtp_host="127.0.0.1", smtp_port=port)
        app = client.app
        sessionmaker, settings, keyring = app[sessionmaker_key], app[settings_key], app[keyring_key]
        mailer = SmtpMailer(settings)
        await open_service(client.app)
        await make_staff(app, role=Role.OPERATOR)
        join, manage = await book_two_days_ahead(client)
        await run_once(sessionmaker, settings, mailer, keyring=keyring)  # (or the background sender does it)
        await wait_for(sink, 1)
        confirmation = sink.messages[0]
        assert links_in(confirmation) == [join, manage]
        [attachment] = list(confirmation.iter_attachments())
        event = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")[0]
        assert str(event["url"]) == join
        async with sessionmaker() as db:
            booking = await db.scalar(select(Booking))
        assert booking is not None
        # The reminder carries the same link the citizen already holds.
        await run_once(sessionmaker, settings, mailer, booking.starts_at - timedelta(hours=24), keyring=keyring)
        await wait_for(sink, 2)
        assert links_in(sink.messages[1]) == [join, manage]
        manage_page = await client.get(manage.split(str(client.port), 1)[1])
        assert manage_page.status == 200 and "?confirm=cancel" in await manage_page.text()
        async with sessionmaker.begin() as db:  # the session is about to start: its link opens the call
            now = datetime.now(UTC)
            await db.execute(
                update(Consultation)
                .where(Consultation.id == booking.consultation_id)
                .values(starts_at=now, ends_at=now + timedelta(minutes=45))
            )
        assert await open_as_citizen(client, join)
        emailed = await email_a_new_link(client)
        await run_once(sessionmaker, settings, mailer, keyring=keyring)
        await wait_for(sink, 3)
    assert links_in(sink.messages[2]) == [emailed]
    assert await open_as_citizen(client, emailed)


async def test_sealed_link_is_dropped_after_sending(database_url: str, tmp_path: Path) -> None:
    """Sent, kept (no SMTP), failed for good, or dropped because the session started: no sealed link is left."""
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    settings = Settings(data_dir=tmp_path, reminder_hours=(24, 1))
    failing = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=free_port(), mail_max_attempts=1)
    join, manage = "http://t/join/abcd-efgh-jkmn-pqrs-tvwx-yz01-2345", "http://t/booking/Zm9vYmFyYmF6cXV4cXV1eA"
    async with open_db(database_url, tmp_path) as sm:
        booking = await seed_booking(sm, now + timedelta(days=3))
        async with sm.begin() as db:
            await enqueue_booking_emails(db, settings, booking, join_link=join, manage_link=manage, now=now)
        rows = await outbox(sm)
        assert all(r.sealed_links for r in rows)
        assert open_links(keyring_for(settings), rows[0]) == [
            ("http://t/join/••••", join),
            ("http://t/booking/••••", manage),
        ]
        assert await run_once(sm, settings, KeepingMailer(), now) == 1
        assert await run_once(sm, failing, SmtpMailer(failing), booking.starts_at - timedelta(hours=24)) == 0
        assert await run_once(sm, settings, KeepingMailer(), booking.starts_at + timedelta(minutes=1)) == 0
        done = {r.kind: r for r in await outbox(sm)}
    assert done["confirmation"].status == OutboxStatus.KEPT
    assert done["reminder_24h"].status == OutboxStatus.FAILED and done["reminder_24h"].attempts == 1
    assert done["reminder_1h"].status == OutboxStatus.FAILED and done["reminder_1h"].last_error == "SessionStarted"
    assert [r.sealed_links for r in done.values()] == [None, None, None]


async def test_a_sealed_link_copied_to_another_row_does_not_open(database_url: str, tmp_path: Path) -> None:
    """The seal is bound to its row: moved to another message it does not open, and that message is not sent."""
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    settings = Settings(data_dir=tmp_path, reminder_hours=(24,))
    with smtp_server() as (port, sink):
        smtp = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        async with open_db(database_url, tmp_path) as sm:
            booking = await seed_booking(sm, now + timedelta(days=3))
            async with sm.begin() as db:
                await enqueue_booking_emails(
                    db, settings, booking, join_link="http://t/join/a", manage_link="http://t/booking/b", now=now
                )
            confirmation, reminder = await outbox(sm)
            async with sm.begin() as db:
                await db.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == confirmation.id)
                    .values(sealed_links=reminder.sealed_links)
                )
            assert await run_once(sm, smtp, SmtpMailer(smtp), now) == 0
            [row, _] = await outbox(sm)
    assert not sink.messages
    assert row.status == OutboxStatus.FAILED and row.last_error == "SealError" and row.sealed_links is None


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(_alembic_config(connection), revision)


async def test_migration_redacts_links_already_in_the_outbox(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(Settings(database_url=database_url, data_dir=tmp_path))
    token = "abcd-efgh-jkmn-pqrs-tvwx-yz01-2345"
    manage = "Zm9vYmFyYmF6cXV4cXV1eFpt9vYmFyYmF6cXV4cXV1eA"
    link = f"https://ascolto.example.org/join/{token}"
    ics = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"
        + "".join(
            f"{line[i : i + 75]}\r\n" if i == 0 else f" {line[i : i + 74]}\r\n"
            for line in (f"URL:{link}", f"DESCRIPTION:Link per collegarsi: {link}")
            for i in [0, *range(75, len(line), 74)]
        )
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, "0007")
            await conn.execute(
                text(
                    "INSERT INTO outbox (id, to_address, subject, body, ics, kind, status, send_after, attempts,"
                    " last_error, created_at) VALUES ('m1', 'a@b.org', 'S', :body, :ics, 'confirmation', 'sent',"
                    " CURRENT_TIMESTAMP, 1, '', CURRENT_TIMESTAMP)"
                ),
                {"body": f"Apra:\n{link}\nPer annullare: https://ascolto.example.org/booking/{manage}\n", "ics": ics},
            )
        await migrate(engine)
        [row] = await raw(engine, "outbox")
    finally:
        await engine.dispose()
    assert row["body"] == (
        "Apra:\nhttps://ascolto.example.org/join/••••\nPer annullare: https://ascolto.example.org/booking/••••\n"
    )
    unfolded = row["ics"].replace("\r\n ", "")
    assert "URL:https://ascolto.example.org/join/••••\r\n" in unfolded
    assert "DESCRIPTION:Link per collegarsi: https://ascolto.example.org/join/••••\r\n" in unfolded
    assert all(len(line.encode()) <= 75 for line in row["ics"].split("\r\n"))
    assert row["sealed_links"] is None
    assert_no_token([row], [token, manage])
