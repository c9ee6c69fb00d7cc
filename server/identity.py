"""Who is making a request: a staff member (session cookie) or a citizen (pass cookie), and what room they
may enter. Used by the pages and by the signaling handshake alike.

An :class:`Identity` remembers the credential it was built from (the staff session's or the citizen pass's
digest) and the staff role at that moment, so that a long-lived holder (a signaling socket) can be checked again
later: :func:`standings` tells, in a few batched queries, which of many identities no longer stand.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import actors, auth, consultations
from server.consultations import WindowState
from server.crypto import digest
from server.errors import Forbidden, NotFound
from server.keys import sessionmaker_key, settings_key
from server.models import CitizenPass, Consultation, ConsultationStatus, Role, Staff, StaffSession, utcnow
from server.settings import Settings

STAFF_COOKIE = "ascolto_session"
CITIZEN_COOKIE = "ascolto_citizen"


@dataclass(frozen=True)
class Identity:
    kind: Literal["staff", "citizen"]
    key: str  # stable per person: "staff:<id>" or "citizen:<pass digest>"
    name: str
    staff: Staff | None = None
    consultation_id: str | None = None  # the citizen's one consultation
    credential: str = ""  # the digest of the staff session or citizen pass it was built from
    role: Role | None = None  # the staff member's role when it was built

    @property
    def standing_key(self) -> str:
        """What :func:`standings` reports this identity under: its credential (and, for staff, its role)."""
        return _staff_key(self.credential, self.role) if self.kind == "staff" else self.credential


def _staff_key(credential: str, role: Role | None) -> str:
    return f"{credential}/{role}"


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
        staff, credential = session.staff, digest(request.cookies[STAFF_COOKIE])
        return Identity(
            "staff", actors.staff(staff.id), staff.name, staff=staff, credential=credential, role=staff.role
        )
    seat = await citizen_seat(request)
    if seat is not None and seat.state == WindowState.OPEN:
        c = seat.consultation
        key = actors.citizen(seat.pass_hash)
        return Identity("citizen", key, c.citizen_name, consultation_id=c.id, credential=seat.pass_hash)
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


# --- standing: is an identity built earlier still good? ---------------------------------------------------

# Identities checked per query: bounded IN lists (SQLite allows 32,766 parameters, PostgreSQL 65,535).
CHUNK = 500
# An open socket counts as activity: its staff session's last_seen_at is refreshed this often at most.
TOUCH_EVERY = timedelta(seconds=60)
_T = TypeVar("_T")


class Standing(enum.StrEnum):
    """Why an identity no longer stands (an identity that still does is not reported)."""

    REVOKED = "revoked"  # staff: logged out, session expired, account disabled or role changed; citizen: pass gone
    REPLACED = "replaced"  # citizen: the link was opened again (another device holds the seat)
    ENDED = "ended"  # citizen: the consultation ended or is outside its time window


async def standings(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    identities: Collection[Identity],
    now: datetime | None = None,
) -> dict[str, Standing]:
    """Those among ``identities`` that no longer stand (by :attr:`Identity.standing_key`) and why, in a few
    queries per :data:`CHUNK` identities.

    Staff sessions that still stand are touched (at most every :data:`TOUCH_EVERY`): whoever holds a socket open
    is active, so a long call does not let the session lapse for inactivity.
    """
    now = now or utcnow()
    staff = sorted({(i.credential, i.role) for i in identities if i.kind == "staff"}, key=str)
    citizens = sorted({i.credential: i.consultation_id or "" for i in identities if i.kind == "citizen"}.items())
    verdicts: dict[str, Standing] = {}
    async with sessionmaker.begin() as db:
        for chunk in _chunks(staff):
            verdicts.update(await _staff_standings(db, settings, chunk, now))
        for part in _chunks(citizens):
            verdicts.update(await _citizen_standings(db, settings, dict(part), now))
    return verdicts


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def _staff_standings(
    db: AsyncSession, settings: Settings, held: Sequence[tuple[str, Role | None]], now: datetime
) -> dict[str, Standing]:
    rows = await db.execute(
        select(StaffSession.id_hash, StaffSession.created_at, StaffSession.last_seen_at, Staff.active, Staff.role)
        .join(Staff, Staff.id == StaffSession.staff_id)
        .where(StaffSession.id_hash.in_({credential for credential, _ in held}))
    )
    standing: set[str] = set()  # standing keys
    stale: list[str] = []
    idle, absolute = timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_absolute_hours)
    for id_hash, created_at, last_seen_at, active, role in rows:
        if active and created_at + absolute > now and last_seen_at + idle > now:
            standing.add(_staff_key(id_hash, role))
            if now - last_seen_at > TOUCH_EVERY:
                stale.append(id_hash)
    if stale:
        await db.execute(update(StaffSession).where(StaffSession.id_hash.in_(stale)).values(last_seen_at=now))
    keys = (_staff_key(credential, role) for credential, role in held)
    return {key: Standing.REVOKED for key in keys if key not in standing}


async def _citizen_standings(
    db: AsyncSession, settings: Settings, consultation_of: dict[str, str], now: datetime
) -> dict[str, Standing]:
    ids = set(consultation_of.values())
    passes = (
        await db.execute(
            select(CitizenPass.id_hash, CitizenPass.consultation_id).where(CitizenPass.consultation_id.in_(ids))
        )
    ).all()
    held = {consultation_id for _, consultation_id in passes}
    live = {id_hash for id_hash, _ in passes}
    found = (await db.scalars(select(Consultation).where(Consultation.id.in_(ids)))).all()
    open_now = {c.id for c in found if consultations.window_state(c, settings, now) == WindowState.OPEN}
    verdicts: dict[str, Standing] = {}
    for credential, consultation_id in consultation_of.items():
        if consultation_id not in open_now:
            verdicts[credential] = Standing.ENDED
        elif credential not in live:
            verdicts[credential] = Standing.REPLACED if consultation_id in held else Standing.REVOKED
    return verdicts
