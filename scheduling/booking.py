"""Booking: book, cancel and move sessions, with the database's no-overlap constraint as the arbiter.

A booking is checked against the free slots that :mod:`scheduling.availability` computes (the same grid the pages
show), then written with its consultation in one transaction. Two people may still race for one slot: the
database refuses the second insert (a PostgreSQL exclusion constraint, SQLite triggers, see migration ``0002``);
the loser tries the slot's next free operator, if the slot has one and none was chosen, and otherwise gets
:class:`SlotTaken` with the nearest free slots. Nothing is ever checked-then-inserted without that arbiter.

The citizen's join token and the manage token (cancel or reschedule) are returned once: only their SHA-256
digests are stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling import notify
from scheduling.availability import load_service
from scheduling.booking_checks import (
    STAFF_BOOKERS,
    BookingRequest,
    SlotTaken,
    alternatives,
    count_in,
    count_out,
    free_slot,
    requested_slot,
    unavailable,
    validate_person,
)
from scheduling.slots import Slot, local_day
from server import actors, audit
from server.consultations import revoke_passes
from server.crypto import digest, join_digest, new_join_token, new_secret
from server.db import insert_now
from server.errors import Conflict, Forbidden, InvalidInput, NotFound
from server.models import (
    Base,
    Booking,
    BookingChannel,
    BookingMode,
    BookingStatus,
    Consultation,
    ConsultationStatus,
    Role,
    Service,
    Staff,
    new_id,
)
from server.settings import Settings

__all__ = [
    "STAFF_BOOKERS",
    "Booked",
    "BookingRef",
    "BookingRequest",
    "ByStaff",
    "ByToken",
    "Links",
    "Moved",
    "SlotTaken",
    "alternatives",
    "book",
    "cancel",
    "find",
    "free_slot",
    "move",
]

MAX_ATTEMPTS = 4  # operators tried for one slot before giving up (each attempt is one transaction)
STAFF_MANAGERS = frozenset({Role.SWITCHBOARD, Role.COORDINATOR})  # may change any booking; operators their own
# PostgreSQL: serialization failure and deadlock. A racing transaction may end with these instead of a conflict.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


@dataclass(frozen=True)
class Booked:
    booking: Booking
    join_token: str  # shown once
    manage_token: str  # shown once
    service: Service


@dataclass(frozen=True)
class ByToken:
    """The citizen, holding the manage link's token."""

    token: str


@dataclass(frozen=True)
class ByStaff:
    staff: Staff
    booking_id: str


BookingRef = ByToken | ByStaff


class Links(Protocol):
    """Absolute links for the emails (built by the web layer, which knows the URL map)."""

    def join(self, token: str) -> str: ...
    def manage(self, token: str) -> str: ...
    def book_again(self) -> str: ...


# Called before the booking is written; returns rows to write with it, atomically (e.g. the idempotent answer).
WithBooking = Callable[[AsyncSession, Booked], Awaitable[Sequence[Base]]]


@asynccontextmanager
async def _attempt(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The session of one booking attempt: its reads, then its one write (:func:`server.db.insert_now`).

    On PostgreSQL that write is one statement, atomic by itself, and the reads see what they would in a READ
    COMMITTED transaction (each statement its own snapshot): the session runs in autocommit, which saves the
    BEGIN and COMMIT round trips. Elsewhere the write is several statements, in a transaction."""
    async with sessionmaker() as db:
        if db.get_bind().dialect.name == "postgresql":
            await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield db
        else:
            async with db.begin():
                yield db


# --- book ------------------------------------------------------------------------------------------------------


def _actor(staff: Staff | None) -> str:
    return actors.staff(staff.id) if staff is not None else actors.CITIZEN


def _channel(staff: Staff | None) -> BookingChannel:
    if staff is None:
        return BookingChannel.ONLINE
    return BookingChannel.FOLLOW_UP if staff.role == Role.OPERATOR else BookingChannel.SWITCHBOARD


def _lost_race(exc: DBAPIError) -> bool:
    """A refused write that means "someone else got there first": the constraint, or a PostgreSQL abort."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(exc, IntegrityError) or code in RETRYABLE_SQLSTATES


def _rows(
    service: Service, request: BookingRequest, mode: BookingMode, operator_id: str, now: datetime
) -> tuple[Booked, Consultation, str]:
    join_token, manage_token = new_join_token(), new_secret()
    start = request.starts_at
    end = start + timedelta(minutes=service.session_minutes)
    name, email, phone = request.citizen_name.strip(), request.citizen_email.strip(), request.citizen_phone.strip()
    consultation = Consultation(
        id=new_id(), operator_id=operator_id, service_id=service.id, citizen_name=name, citizen_email=email,
        citizen_phone=phone, starts_at=start, ends_at=end, token_hash=join_digest(join_token),
    )  # fmt: skip
    staff = request.staff
    booking = Booking(
        id=new_id(), service_id=service.id, operator_id=operator_id, consultation_id=consultation.id,
        starts_at=start, ends_at=end, blocked_until=end + timedelta(minutes=service.buffer_minutes), mode=mode,
        status=BookingStatus.ACTIVE, channel=_channel(staff), citizen_name=name, citizen_email=email,
        citizen_phone=phone, booked_by=_actor(staff), manage_token_hash=digest(manage_token), created_at=now,
        privacy_accepted_at=now if staff is None else None,
        verbal_consent_by=_actor(staff) if staff is not None else None,
        verbal_consent_at=now if staff is not None else None,
    )  # fmt: skip
    return Booked(booking, join_token, manage_token, service), consultation, request.lang


async def book(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    request: BookingRequest,
    now: datetime,
    *,
    links: Links | None = None,
    within: WithBooking | None = None,
) -> Booked:
    """Book a session: validate, pick the operator (the chosen one, else the least loaded free one), write the
    booking, its consultation and its emails (when ``links`` are given) atomically.

    Raises InvalidInput (400), NotFound (404), Forbidden (403) or SlotTaken (409)."""
    validate_person(request)
    slot: Slot | None = None
    try:  # the first attempt in the session that checked the slot
        async with _attempt(sessionmaker) as db:
            service, mode, slot = await requested_slot(db, request, now)
            if slot is not None:
                return await _insert(
                    db, settings, _rows(service, request, mode, slot.operator_ids[0], now), links, within
                )
    except DBAPIError as exc:
        if slot is None or not _lost_race(exc):
            raise
    if slot is None:
        raise await unavailable(sessionmaker, service, request.starts_at, now, request.operator_id)
    for operator_id in slot.operator_ids[1:MAX_ATTEMPTS]:
        try:
            async with _attempt(sessionmaker) as db:
                return await _insert(db, settings, _rows(service, request, mode, operator_id, now), links, within)
        except DBAPIError as exc:
            if not _lost_race(exc):
                raise
    raise SlotTaken(await alternatives(sessionmaker, service, request.starts_at, now, request.operator_id))


async def _insert(
    db: AsyncSession,
    settings: Settings,
    rows: tuple[Booked, Consultation, str],
    links: Links | None,
    within: WithBooking | None,
) -> Booked:
    """Write the booking, its consultation, the audit event, the emails and ``within``'s rows at once, without the
    unit of work (see :func:`server.db.insert_now`: one statement on PostgreSQL)."""
    booked, consultation, lang = rows
    booking = booked.booking
    emails = []
    if links is not None:
        emails = notify.booking_emails(
            settings, booking, booked.service, join_link=links.join(booked.join_token),
            manage_link=links.manage(booked.manage_token), lang=lang, now=booking.created_at,
        )  # fmt: skip
    extra = await within(db, booked) if within is not None else ()
    created = audit.event(booking.booked_by, "create", "booking", booking.id)
    counted = count_in(db.get_bind().dialect.name, booking.operator_id, booking.starts_at)  # the daily cap
    await insert_now(db, consultation, booking, created, *emails, *extra, along=counted)
    return booked


# --- cancel and move -------------------------------------------------------------------------------------------


async def _locate(db: AsyncSession, ref: BookingRef) -> Booking:
    if isinstance(ref, ByToken):
        booking = await db.scalar(select(Booking).where(Booking.manage_token_hash == digest(ref.token)))
        if booking is None:
            raise NotFound("no such booking")
        return booking
    booking = await db.get(Booking, ref.booking_id)
    if booking is None:
        raise NotFound("no such booking")
    if ref.staff.role not in STAFF_MANAGERS and booking.operator_id != ref.staff.id:
        raise Forbidden("this booking belongs to another operator")
    return booking


def _ref_actor(ref: BookingRef) -> str:
    return actors.CITIZEN if isinstance(ref, ByToken) else actors.staff(ref.staff.id)


async def find(sessionmaker: async_sessionmaker[AsyncSession], ref: BookingRef) -> Booking:
    """The booking behind a manage token or a staff reference (audited: it holds personal data)."""
    async with sessionmaker.begin() as db:
        booking = await _locate(db, ref)
        audit.record(db, _ref_actor(ref), "read", "booking", booking.id)
    return booking


async def cancel(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    ref: BookingRef,
    now: datetime,
    *,
    links: Links | None = None,
    lang: str = "it",
) -> Booking:
    """Cancel a booking (idempotent): its time is free again and its join link stops working, and so do the
    citizen's passes (the cookie the link was exchanged for).

    A citizen cannot cancel a session that has started; staff can."""
    async with sessionmaker.begin() as db:
        booking = await _locate(db, ref)
        if booking.status == BookingStatus.CANCELLED:
            return booking
        if isinstance(ref, ByToken) and booking.starts_at <= now:
            raise Conflict("this session has already started")
        booking.status, booking.cancelled_at = BookingStatus.CANCELLED, now
        statement, params = count_out(booking.operator_id, booking.starts_at)
        await db.execute(statement, dict(params))  # its place under the daily cap is free again
        consultation = await db.get(Consultation, booking.consultation_id) if booking.consultation_id else None
        if consultation is not None and consultation.status != ConsultationStatus.ENDED:
            consultation.status, consultation.ended_at = ConsultationStatus.ENDED, now
        if consultation is not None:
            await revoke_passes(db, consultation.id)  # the citizen's cookie and open sockets too
        audit.record(db, _ref_actor(ref), "cancel", "booking", booking.id)
        if links is not None:
            await notify.enqueue_cancellation(
                db, settings, booking, book_again_link=links.book_again(), lang=lang, now=now
            )
    return booking


@dataclass(frozen=True)
class Moved:
    booking: Booking
    join_token: str  # a new join link (the old one stops working)
    manage_token: str | None  # a new manage link when staff moved it (None: the citizen's link still works)


async def move(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    ref: BookingRef,
    starts_at: datetime,
    now: datetime,
    *,
    operator_id: str | None = None,
    links: Links | None = None,
    lang: str = "it",
) -> Moved:
    """Move an active booking to another free slot (the same operator when free then, else the least loaded
    one; staff may choose). The constraint stays the arbiter: a lost race raises SlotTaken."""
    if isinstance(ref, ByToken) and operator_id:
        raise InvalidInput("the operator is chosen by the service", {"operator_id": "staff_only"})
    current = await find(sessionmaker, ref)
    if current.status != BookingStatus.ACTIVE:
        raise Conflict("this booking was cancelled")
    if isinstance(ref, ByToken) and current.starts_at <= now:
        raise Conflict("this session has already started")
    service = await load_service(sessionmaker, current.service_id)
    slot = await free_slot(sessionmaker, service, starts_at, now, operator_id, current.id)
    ranked = sorted(slot.operator_ids, key=lambda op: op != current.operator_id)  # keep the operator if free
    for candidate in ranked[:MAX_ATTEMPTS]:
        try:
            return await _move_to(sessionmaker, settings, ref, service, slot, candidate, now, links, lang)
        except DBAPIError as exc:
            if not _lost_race(exc):
                raise
    raise SlotTaken(await alternatives(sessionmaker, service, starts_at, now, operator_id, current.id))


async def _move_to(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    ref: BookingRef,
    service: Service,
    slot: Slot,
    operator_id: str,
    now: datetime,
    links: Links | None,
    lang: str,
) -> Moved:
    join_token = new_join_token()
    manage_token = new_secret() if isinstance(ref, ByStaff) else None
    async with sessionmaker.begin() as db:
        booking = await _locate(db, ref)
        if booking.status != BookingStatus.ACTIVE:
            raise Conflict("this booking was cancelled")
        await _recount(db, booking, operator_id, slot.starts_at)
        booking.operator_id, booking.starts_at, booking.ends_at = operator_id, slot.starts_at, slot.ends_at
        booking.blocked_until = slot.ends_at + timedelta(minutes=service.buffer_minutes)
        if manage_token is not None:
            booking.manage_token_hash = digest(manage_token)
        consultation = await db.get(Consultation, booking.consultation_id) if booking.consultation_id else None
        if consultation is not None:
            consultation.operator_id, consultation.starts_at, consultation.ends_at = operator_id, *_window(slot)
            consultation.token_hash = join_digest(join_token)
            await revoke_passes(db, consultation.id)  # the old link's cookie and open sockets stop working too
        await db.flush()
        audit.record(db, _ref_actor(ref), "move", "booking", booking.id)
        if links is not None:
            link_token = manage_token or (ref.token if isinstance(ref, ByToken) else "")
            await notify.enqueue_moved(
                db, settings, booking, join_link=links.join(join_token), manage_link=links.manage(link_token),
                lang=lang, now=now,
            )  # fmt: skip
    return Moved(booking, join_token, manage_token)


async def _recount(db: AsyncSession, booking: Booking, operator_id: str, starts_at: datetime) -> None:
    """Move the booking's place under the daily cap (``booking_day``) when its operator or local day changes: out
    of the old day, into the new one (where the cap may refuse it, IntegrityError), in key order so that two
    moves in opposite directions take the row locks in the same order."""
    if (booking.operator_id, local_day(booking.starts_at)) == (operator_id, local_day(starts_at)):
        return
    dialect = db.get_bind().dialect.name
    steps = [
        ((booking.operator_id, local_day(booking.starts_at)), count_out(booking.operator_id, booking.starts_at)),
        ((operator_id, local_day(starts_at)), count_in(dialect, operator_id, starts_at)),
    ]
    for _, (statement, params) in sorted(steps, key=lambda step: step[0]):
        await db.execute(statement, dict(params))


def _window(slot: Slot) -> tuple[datetime, datetime]:
    return slot.starts_at, slot.ends_at
