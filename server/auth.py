"""Staff authentication: argon2id passwords, server-side sessions, failed-login throttling, and the start of a
login that still needs its second factor (finished by :mod:`server.mfa`).

The session cookie holds a random secret; the database keeps only its SHA-256, so a leaked database cannot be
replayed as cookies. A login always issues a fresh session (rotation); logout deletes it. Sessions end after
``session_idle_minutes`` without activity and ``session_absolute_hours`` after login in any case.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.crypto import digest, new_secret
from server.errors import InvalidInput
from server.models import MfaPendingLogin, Role, Staff, StaffMfa, StaffSession, utcnow
from server.settings import Settings
from server.throttle import login_limits, throttle_for

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

# A hash of a random password, verified against when the account does not exist so that timing does not tell.
_DUMMY_HASH = _hasher.hash(new_secret())

MIN_PASSWORD_LENGTH = 10


async def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_staff(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    discipline: str = "",
) -> Staff:
    email = normalise_email(email)
    fields: dict[str, str] = {}
    if "@" not in email or len(email) > 254:
        fields["email"] = "invalid email address"
    if not name.strip():
        fields["name"] = "a name is required"
    if fields:
        raise InvalidInput("invalid staff member", fields)
    password_hash = await hash_password(password)
    async with sessionmaker.begin() as db:
        if await db.scalar(select(Staff.id).where(Staff.email == email)):
            raise InvalidInput("a staff member with this email exists", {"email": "already in use"})
        staff = Staff(email=email, name=name.strip(), role=role, password_hash=password_hash, discipline=discipline)
        db.add(staff)
    return staff


@dataclass(frozen=True)
class SessionInfo:
    staff: Staff
    csrf_token: str


async def login(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    email: str,
    password: str,
    address: str,
    previous_session: str | None = None,
    next_url: str = "/console",
) -> tuple[str, SessionInfo] | SecondFactorPending | None:
    """Check the credentials; on success return a fresh session secret and what it stands for, or, when the
    member's role must use MFA (``mfa_roles``), a :class:`SecondFactorPending` (no session: ``next_url`` waits
    with it until the code is given).

    Returns None for wrong credentials; raises :class:`TooManyAttempts` when throttled (:mod:`server.throttle`:
    the attempt is counted before the password is checked, so a throttled attacker learns nothing).
    ``previous_session`` is deleted: ids rotate at login.
    """
    throttle, limits = throttle_for(sessionmaker, settings), login_limits(settings, email, address)
    await throttle.attempt(limits)  # counted before the password is checked: racers cannot all be checked
    async with sessionmaker.begin() as db:
        staff = await db.scalar(select(Staff).where(Staff.email == normalise_email(email)))
    ok = await verify_password(staff.password_hash if staff else _DUMMY_HASH, password)
    if not ok or staff is None or not staff.active:
        return None
    await throttle.succeeded(limits)
    async with sessionmaker.begin() as db:
        if previous_session:
            await db.execute(delete(StaffSession).where(StaffSession.id_hash == digest(previous_session)))
        if mfa_required(settings, staff):
            return await _start_pending(db, staff, next_url)
        secret, csrf_token = open_session(db, staff.id)
    return secret, SessionInfo(staff=staff, csrf_token=csrf_token)


# --- the second factor (server.mfa) -----------------------------------------------------------------------


@dataclass(frozen=True)
class SecondFactorPending:
    """A correct password for a role that must use MFA: no session yet, only a pending login (its cookie value
    is ``secret``) that the code page, or the enrolment page when ``enrolled`` is false, turns into one."""

    secret: str
    staff: Staff
    enrolled: bool


def mfa_required(settings: Settings, staff: Staff) -> bool:
    return staff.role.value in settings.mfa_roles


def open_session(db: AsyncSession, staff_id: str) -> tuple[str, str]:
    """Add a fresh session to the caller's transaction; return its cookie value and its CSRF token."""
    secret = new_secret()
    session = StaffSession(id_hash=digest(secret), staff_id=staff_id, csrf_token=new_secret())
    db.add(session)
    return secret, session.csrf_token


async def _start_pending(db: AsyncSession, staff: Staff, next_url: str) -> SecondFactorPending:
    confirmed = await db.scalar(select(StaffMfa.confirmed_at).where(StaffMfa.staff_id == staff.id))
    secret = new_secret()
    db.add(MfaPendingLogin(id_hash=digest(secret), staff_id=staff.id, csrf_token=new_secret(), next_url=next_url))
    return SecondFactorPending(secret=secret, staff=staff, enrolled=confirmed is not None)


def _expired(session: StaffSession, settings: Settings, now: datetime) -> bool:
    return (
        session.last_seen_at + timedelta(minutes=settings.session_idle_minutes) <= now
        or session.created_at + timedelta(hours=settings.session_absolute_hours) <= now
    )


async def lookup_session(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, secret: str, *, touch: bool = True
) -> SessionInfo | None:
    """The live session behind a cookie value, or None. Expired sessions are deleted on sight."""
    now = utcnow()
    async with sessionmaker.begin() as db:
        session = await db.get(StaffSession, digest(secret))
        if session is None:
            return None
        if _expired(session, settings, now):
            await db.delete(session)
            return None
        staff = await db.get(Staff, session.staff_id)
        if staff is None or not staff.active:
            await db.delete(session)
            return None
        # Writing on every request would serialise SQLite writers; a minute of precision is plenty.
        if touch and now - session.last_seen_at > timedelta(seconds=60):
            session.last_seen_at = now
        return SessionInfo(staff=staff, csrf_token=session.csrf_token)


async def logout(sessionmaker: async_sessionmaker[AsyncSession], secret: str) -> None:
    async with sessionmaker.begin() as db:
        await db.execute(delete(StaffSession).where(StaffSession.id_hash == digest(secret)))
