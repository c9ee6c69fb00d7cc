"""Who is making a request: a staff member (session cookie) or a citizen (pass cookie), and what room they
may enter. Used by the pages and by the signaling handshake alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from server import auth, consultations
from server.consultations import WindowState
from server.errors import Forbidden, NotFound
from server.keys import sessionmaker_key, settings_key
from server.models import Consultation, ConsultationStatus, Staff

STAFF_COOKIE = "ascolto_session"
CITIZEN_COOKIE = "ascolto_citizen"


@dataclass(frozen=True)
class Identity:
    kind: Literal["staff", "citizen"]
    key: str  # stable per person: "staff:<id>" or "citizen:<pass digest>"
    name: str
    staff: Staff | None = None
    consultation_id: str | None = None  # the citizen's one consultation


class RoomEnded(Exception):
    """The consultation is over (or outside its window) and its room cannot be entered."""


@dataclass(frozen=True)
class RoomGrant:
    room_id: str
    role: Literal["operator", "citizen"]
    name: str


async def staff_session(request: web.Request) -> auth.SessionInfo | None:
    secret = request.cookies.get(STAFF_COOKIE)
    if not secret:
        return None
    return await auth.lookup_session(request.app[sessionmaker_key], request.app[settings_key], secret)


async def citizen_seat(request: web.Request) -> consultations.CitizenSeat | None:
    secret = request.cookies.get(CITIZEN_COOKIE)
    if not secret:
        return None
    return await consultations.lookup_pass(request.app[sessionmaker_key], request.app[settings_key], secret)


async def identify(request: web.Request) -> Identity | None:
    """The staff session wins when a browser holds both cookies (an operator testing a link)."""
    session = await staff_session(request)
    if session is not None:
        staff = session.staff
        return Identity("staff", f"staff:{staff.id}", staff.name, staff=staff)
    seat = await citizen_seat(request)
    if seat is not None and seat.state == WindowState.OPEN:
        c = seat.consultation
        return Identity("citizen", f"citizen:{seat.pass_hash}", c.citizen_name, consultation_id=c.id)
    return None


async def grant(app: web.Application, identity: Identity, room_id: str) -> RoomGrant:
    """May this person enter that room, and as what? Raises NotFound, Forbidden or RoomEnded."""
    async with app[sessionmaker_key]() as db:
        consultation = await db.get(Consultation, room_id)
    if consultation is None:
        raise NotFound("no such room")
    if identity.kind == "citizen":
        if identity.consultation_id != room_id:
            raise Forbidden("this link is for another session")
        role: Literal["operator", "citizen"] = "citizen"
    elif identity.staff is not None and consultation.operator_id == identity.staff.id:
        role = "operator"
    else:
        raise Forbidden("this session belongs to another operator")
    if consultation.status == ConsultationStatus.ENDED:
        raise RoomEnded(room_id)
    if role == "citizen" and consultations.window_state(consultation, app[settings_key]) != WindowState.OPEN:
        raise RoomEnded(room_id)
    return RoomGrant(room_id, role, identity.name)
