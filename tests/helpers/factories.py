"""Factories for test data, bound to a running app (``app``) or, for the outbox tests that run without one, to a
sessionmaker (``sm``): staff, services, consultations, supervision rooms, cases, bookings; and counting rows."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from server import auth, cases, consultations, supervision
from server.cases import records
from server.consultations import NewConsultation
from server.keys import sessionmaker_key, settings_key
from server.models import (
    Booking,
    BookingChannel,
    BookingMode,
    Case,
    OpeningHours,
    OutcomeKind,
    RiskLevel,
    Role,
    Service,
    Staff,
    utcnow,
)
from tests.helpers.services import Sessionmaker

PASSWORD = "correct horse battery staple"
CASE_NOTE = "Nota riservata sul colloquio."  # the note :func:`citizen_case` writes


async def make_staff(
    app: web.Application,
    *,
    role: Role = Role.OPERATOR,
    email: str | None = None,
    name: str = "Dott.ssa Rossi",
    password: str = PASSWORD,
) -> Staff:
    email = email or f"staff-{secrets.token_hex(4)}@example.org"
    return await auth.create_staff(app[sessionmaker_key], email=email, name=name, role=role, password=password)


async def make_operators(app: web.Application, n: int, role: Role = Role.OPERATOR) -> list[Staff]:
    """Staff rows without a usable password (hashing is slow and these never log in)."""
    staff = [
        Staff(email=f"op-{secrets.token_hex(4)}@example.org", name=f"Op {i}", role=role, password_hash="x")
        for i in range(n)
    ]
    async with app[sessionmaker_key].begin() as db:
        db.add_all(staff)
    return staff


async def make_service(
    app: web.Application, *, slug: str = "ascolto", name: str = "", phone: str = "02 1234", **rules: Any
) -> Service:
    """A service with the model's default rules, but for ``rules``; named "Servizio <slug>" unless ``name``."""
    service = Service(slug=slug, name=name or f"Servizio {slug}", phone=phone, **rules)
    async with app[sessionmaker_key].begin() as db:
        db.add(service)
    return service


async def open_service(app: web.Application, **rules: Any) -> Service:
    """The "emergenza" service, open every day 00:00-23:59 and bookable with no notice: the nearest slot is at most
    an hour away, whatever the hour the test runs at."""
    rules = {"slug": "emergenza", "name": "Emergenza psicologica", "phone": "", "min_notice_minutes": 0, **rules}
    service = await make_service(app, **rules)
    async with app[sessionmaker_key].begin() as db:
        db.add_all(
            OpeningHours(service_id=service.id, weekday=d, opens=time(0, 0), closes=time(23, 59)) for d in range(7)
        )
    return service


async def make_consultation(
    app: web.Application,
    operator: Staff,
    *,
    citizen_name: str = "Maria",
    starts_at: datetime | None = None,
    minutes: int | None = None,
    **fields: Any,
) -> NewConsultation:
    return await consultations.create_consultation(
        app[sessionmaker_key],
        app[settings_key],
        operator=operator,
        citizen_name=citizen_name,
        starts_at=starts_at,
        minutes=minutes,
        **fields,
    )


async def supervision_room(app: web.Application, members: int = 2) -> tuple[Staff, list[Staff], str]:
    """A supervisor and ``members`` invited operators, and their one-off room."""
    supervisor = await make_staff(app, role=Role.SUPERVISOR, name="Supervisore")
    invited = [await make_staff(app, name=f"Membro {n}") for n in range(members)]
    room = await supervision.create_room(
        app[sessionmaker_key], supervisor, title="S", starts_at=utcnow(), invitees=[s.id for s in invited]
    )
    return supervisor, invited, room.id


async def citizen_case(app: web.Application) -> tuple[Staff, Case]:
    """An operator and the case of their consultation with Maria Bianchi: a note (:data:`CASE_NOTE`), a medium risk,
    an outcome, and the case read once."""
    ctx = cases.context(app)
    operator = await make_staff(app, name="Dott.ssa Rossi")
    consultation = (
        await make_consultation(
            app,
            operator,
            citizen_name="Maria Bianchi",
            citizen_email="maria@example.org",
            citizen_phone="+39 333",
        )
    ).consultation
    case = await records.case_of_consultation(ctx, operator, consultation.id)
    await records.write_note(ctx, operator, case.id, CASE_NOTE)
    await records.assess_risk(ctx, operator, case.id, RiskLevel.MEDIUM, RiskLevel.NONE)
    await records.record_outcome(ctx, operator, case.id, OutcomeKind.FURTHER_SESSIONS)
    await records.read_case(ctx, operator, case.id)
    return operator, case


async def seed_booking(
    sm: Sessionmaker,
    starts_at: datetime,
    *,
    email_address: str = "maria@example.org",
    consultation_id: str | None = None,
) -> Booking:
    """A service, an operator and one active video booking starting at ``starts_at``."""
    async with sm.begin() as db:
        if await db.get(Service, "s") is None:
            db.add(Service(id="s", slug="s", name="S", phone="02 1111"))
        if await db.get(Staff, "op") is None:
            db.add(Staff(id="op", email="op@x.org", name="Op", role=Role.OPERATOR, password_hash="x"))
        await db.flush()
        booking = Booking(
            service_id="s",
            operator_id="op",
            consultation_id=consultation_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=45),
            blocked_until=starts_at + timedelta(minutes=60),
            mode=BookingMode.VIDEO,
            channel=BookingChannel.ONLINE,
            citizen_name="Maria",
            citizen_email=email_address,
            booked_by="citizen",
            manage_token_hash=f"m{starts_at.timestamp()}",
        )
        db.add(booking)
    return booking


async def count(app: web.Application, model: type[Any], *where: Any) -> int:
    """How many rows of ``model`` (matching ``where``) the app's database holds."""
    async with app[sessionmaker_key]() as db:
        return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)
