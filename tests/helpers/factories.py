"""Factories for test data, bound to a running app."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from aiohttp import web

from server import auth, consultations, supervision
from server.consultations import NewConsultation
from server.keys import sessionmaker_key, settings_key
from server.models import Role, Staff, utcnow

PASSWORD = "correct horse battery staple"


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
