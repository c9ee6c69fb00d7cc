"""Checks before a booking is written: who and how (the person, consent, the mode), and when (the slot is on the
free grid). Raised errors: InvalidInput (400), NotFound (404), Forbidden (403), SlotTaken (409).

The database stays the arbiter of races (see :mod:`scheduling.booking`): these checks say why a request cannot be
booked, they do not promise that it will be. The daily cap's arbiter is the ``booking_day`` counter: the statements
that keep it (:func:`count_in`, :func:`count_out`) are here, written by the booking with its other rows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import UpdateBase

from scheduling.availability import day_inputs, free_slots_for, service_and_rules
from scheduling.slots import OperatorSchedule, ServiceRules, Slot, find_nearest, local_day, slot_at
from server.db import Along
from server.errors import Conflict, Forbidden, InvalidInput, NotFound
from server.models import Booking, BookingMode, BookingStatus, Role, Service, Staff
from server.models.scheduling import BookingDay

MAX_NAME = 200
ALTERNATIVES = 3  # nearest free slots offered when a slot was just taken
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
PHONE = re.compile(r"^\+?[0-9 ./()-]{6,40}$")
STAFF_BOOKERS = frozenset({Role.SWITCHBOARD, Role.OPERATOR, Role.COORDINATOR})


class SlotTaken(Conflict):
    """The slot was free a moment ago and is not now. ``alternatives``: the nearest free slots."""

    code = "slot_taken"

    def __init__(self, alternatives: Sequence[Slot], message: str = "this time was just taken") -> None:
        super().__init__(message)
        self.alternatives = list(alternatives)


@dataclass(frozen=True)
class BookingRequest:
    """What a citizen (``staff`` None) or a staff member on a caller's behalf asks for."""

    service: str  # slug or id
    starts_at: datetime  # timezone-aware
    mode: str  # a BookingMode value
    citizen_name: str
    citizen_email: str = ""
    citizen_phone: str = ""
    privacy_accepted: bool = False  # the citizen ticked the privacy notice (online)
    verbal_consent: bool = False  # the caller consented on the phone (staff)
    operator_id: str | None = None  # staff only: the chosen operator
    staff: Staff | None = None
    lang: str = "it"


def validate_person(request: BookingRequest) -> None:
    fields: dict[str, str] = {}
    name, email, phone = request.citizen_name.strip(), request.citizen_email.strip(), request.citizen_phone.strip()
    if not name:
        fields["citizen_name"] = "required"
    elif len(name) > MAX_NAME:
        fields["citizen_name"] = "too_long"
    if email and (len(email) > 254 or not EMAIL.match(email)):
        fields["citizen_email"] = "invalid_email"
    if phone and (sum(c.isdigit() for c in phone) < 6 or not PHONE.match(phone)):
        fields["citizen_phone"] = "invalid_phone"
    if not email and not phone:
        fields["citizen_email"] = "email_or_phone_required"
    if request.staff is None and not request.privacy_accepted:
        fields["privacy_accepted"] = "required"
    if request.staff is not None and not request.verbal_consent:
        fields["verbal_consent"] = "required"
    if request.staff is None and request.operator_id:
        fields["operator_id"] = "staff_only"
    if request.staff is not None and request.staff.role not in STAFF_BOOKERS:
        raise Forbidden("this role cannot book sessions")
    if fields:
        raise InvalidInput("the booking is not valid", fields)


def check_service(service: Service, request: BookingRequest) -> BookingMode:
    if request.staff is None and not service.bookable_online:
        raise NotFound("this service cannot be booked online")
    offered = {m.strip() for m in service.modes.split(",")}
    if request.mode not in offered or request.mode not in {m.value for m in BookingMode}:
        raise InvalidInput("this service does not offer that mode", {"mode": "not_offered"})
    return BookingMode(request.mode)


def _check_time(service: Service, start: datetime, now: datetime) -> None:
    if start.tzinfo is None:
        raise InvalidInput("the time needs a time zone", {"starts_at": "naive"})
    if start <= now:
        raise InvalidInput("this time has passed", {"starts_at": "in_the_past"})
    if start < now + timedelta(minutes=service.min_notice_minutes):
        raise InvalidInput("this time is too soon to book", {"starts_at": "too_soon"})
    if local_day(start) >= local_day(now) + timedelta(days=service.horizon_days):
        raise InvalidInput("booking for this day is not open yet", {"starts_at": "too_far"})


async def alternatives(
    sessionmaker: async_sessionmaker[AsyncSession],
    service: Service,
    wanted: datetime,
    now: datetime,
    operator_id: str | None = None,
    ignore_booking_id: str | None = None,
) -> list[Slot]:
    slots = await free_slots_for(
        sessionmaker, service, now, operator_id=operator_id, ignore_booking_id=ignore_booking_id
    )
    return find_nearest(slots, wanted, ALTERNATIVES)


async def _taken(
    sessionmaker: async_sessionmaker[AsyncSession], service: Service, start: datetime, ignore: str | None
) -> bool:
    """Whether an active booking of the service covers ``start``: the slot existed and someone took it."""
    async with sessionmaker() as db:
        found = await db.scalar(
            select(Booking.id)
            .where(
                Booking.service_id == service.id,
                Booking.status == BookingStatus.ACTIVE,
                Booking.starts_at <= start,
                Booking.blocked_until > start,
                Booking.id != (ignore or ""),
            )
            .limit(1)
        )
    return found is not None


async def free_slot(
    sessionmaker: async_sessionmaker[AsyncSession],
    service: Service,
    start: datetime,
    now: datetime,
    operator_id: str | None = None,
    ignore_booking_id: str | None = None,
) -> Slot:
    """The free slot starting at ``start`` (for ``operator_id`` if given); SlotTaken or InvalidInput otherwise.
    ``ignore_booking_id``: the booking being moved (it blocks neither its new time nor its operator's cap).

    Only that local day is loaded and computed; the alternatives of a conflict are computed only then."""
    _check_time(service, start, now)
    async with sessionmaker.begin() as db:
        inputs = await day_inputs(
            db, service, local_day(start), now, operator_id=operator_id, ignore_booking_id=ignore_booking_id
        )
    return await _slot_at(sessionmaker, service, inputs, start, now, operator_id, ignore_booking_id)


async def requested_slot(
    db: AsyncSession, request: BookingRequest, now: datetime
) -> tuple[Service, BookingMode, Slot | None]:
    """The service, the mode and the free slot (None: not free) a new booking asks for, read in the caller's
    transaction (the checks of :func:`check_service` and :func:`free_slot`, in that order); when None,
    :func:`unavailable` says why."""
    day = local_day(request.starts_at)
    service, rules = await service_and_rules(db, request.service, day)
    mode = check_service(service, request)
    _check_time(service, request.starts_at, now)
    inputs = await day_inputs(db, service, day, now, operator_id=request.operator_id, rules=rules)
    return service, mode, slot_at(*inputs, request.starts_at, now)


async def unavailable(
    sessionmaker: async_sessionmaker[AsyncSession],
    service: Service,
    start: datetime,
    now: datetime,
    operator_id: str | None,
    ignore: str | None = None,
) -> Conflict | InvalidInput:
    """Why no session can start at ``start``: someone took it (SlotTaken, with the nearest free slots, computed
    only now), or it was never on the free grid (InvalidInput)."""
    if await _taken(sessionmaker, service, start, ignore):
        return SlotTaken(await alternatives(sessionmaker, service, start, now, operator_id, ignore))
    return InvalidInput("no session can be booked at this time", {"starts_at": "unavailable"})


async def _slot_at(
    sessionmaker: async_sessionmaker[AsyncSession],
    service: Service,
    inputs: tuple[ServiceRules, list[OperatorSchedule]],
    start: datetime,
    now: datetime,
    operator_id: str | None,
    ignore: str | None,
) -> Slot:
    slot = slot_at(*inputs, start, now)
    if slot is None:
        raise await unavailable(sessionmaker, service, start, now, operator_id, ignore)
    return slot


# --- the daily cap, in the database ----------------------------------------------------------------------------


def count_in(dialect: str, operator_id: str, starts_at: datetime) -> Along:
    """The statement (and its parameters) that counts one more active booking of ``operator_id`` on the local day
    of ``starts_at``: an upsert of its ``booking_day`` row that copies the operator's current cap in. Over the cap,
    the check constraint refuses it (IntegrityError), and with it the transaction's booking; its row lock makes a
    concurrent booking of that operator and day wait for this transaction and then count after it."""
    return _count_in(dialect), {"cap_operator": operator_id, "cap_day": local_day(starts_at)}


def count_out(operator_id: str, starts_at: datetime) -> Along:
    """The statement (and its parameters) that counts one active booking less (cancelled, or moved away)."""
    return _count_out(), {"cap_operator": operator_id, "cap_day": local_day(starts_at)}


@functools.cache
def _count_in(dialect: str) -> UpdateBase:
    operator = bindparam("cap_operator", type_=BookingDay.operator_id.type)
    cap = select(Staff.daily_cap).where(Staff.id == operator).scalar_subquery()
    values = {"operator_id": operator, "day": bindparam("cap_day", type_=BookingDay.day.type), "booked": 1, "cap": cap}
    insert = postgresql.insert(BookingDay) if dialect == "postgresql" else sqlite.insert(BookingDay)
    statement = insert.values(values)
    return statement.on_conflict_do_update(
        index_elements=[BookingDay.operator_id, BookingDay.day],
        set_={"booked": BookingDay.booked + 1, "cap": statement.excluded.cap},
    )


@functools.cache
def _count_out() -> UpdateBase:
    return (
        update(BookingDay)
        .where(
            BookingDay.operator_id == bindparam("cap_operator"),
            BookingDay.day == bindparam("cap_day"),
            BookingDay.booked > 0,
        )
        .values(booked=BookingDay.booked - 1)
    )
