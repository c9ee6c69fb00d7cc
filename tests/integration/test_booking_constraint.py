"""The database itself refuses a double booking (PostgreSQL exclusion constraint, SQLite triggers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.db import create_engine, make_sessionmaker, migrate
from server.models import Booking, BookingChannel, BookingMode, BookingStatus, Role, Service, Staff
from server.settings import Settings

NOON = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def booking(operator: str, service: str, start: datetime, minutes: int = 45, buffer: int = 15, **kw: object) -> Booking:
    return Booking(
        service_id=service,
        operator_id=operator,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        blocked_until=start + timedelta(minutes=minutes + buffer),
        mode=BookingMode.VIDEO,
        channel=BookingChannel.ONLINE,
        citizen_name="Maria",
        booked_by="citizen",
        manage_token_hash=f"h{start.timestamp()}{operator}{kw.get('status', '')}",
        **kw,
    )


async def test_overlapping_active_bookings_of_one_operator_are_refused(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    await migrate(engine)
    sm = make_sessionmaker(engine)
    try:
        async with sm.begin() as db:
            db.add(Service(id="s", slug="s", name="S"))
            db.add_all(
                Staff(id=i, email=f"{i}@x.org", name=i, role=Role.OPERATOR, password_hash="x") for i in ("a", "b")
            )
        async with sm.begin() as db:
            db.add(booking("a", "s", NOON))
        # Overlaps the buffer after the first session: refused.
        for start in (NOON, NOON + timedelta(minutes=50), NOON - timedelta(minutes=30)):
            with pytest.raises((IntegrityError, DBAPIError)):
                async with sm.begin() as db:
                    db.add(booking("a", "s", start))
        async with sm.begin() as db:
            db.add(booking("b", "s", NOON))  # another operator: fine
            db.add(booking("a", "s", NOON + timedelta(minutes=60)))  # right after the buffer: fine
            db.add(booking("a", "s", NOON - timedelta(hours=2), status=BookingStatus.CANCELLED))
        # A cancelled booking frees its time; moving a booking onto a taken time is refused too.
        async with sm.begin() as db:
            await db.execute(update(Booking).where(Booking.starts_at == NOON).values(status=BookingStatus.CANCELLED))
            db.add(booking("a", "s", NOON - timedelta(minutes=5)))
        with pytest.raises((IntegrityError, DBAPIError)):
            async with sm.begin() as db:
                await db.execute(
                    update(Booking)
                    .where(Booking.starts_at == NOON + timedelta(minutes=60), Booking.operator_id == "a")
                    .values(starts_at=NOON + timedelta(minutes=30), blocked_until=NOON + timedelta(minutes=90))
                )
    finally:
        await engine.dispose()
