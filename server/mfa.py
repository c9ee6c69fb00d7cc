"""Staff multi-factor authentication: TOTP (RFC 6238) with pyotp, one-time recovery codes, enrolment.

After a correct password, a member whose role is in ``mfa_roles`` holds only a *pending login*
(:class:`server.models.MfaPendingLogin`, made by :func:`server.auth.login`): no page but the code and enrolment
pages, and no socket, accepts it. Giving a code turns it into a session (:func:`complete`).

- The TOTP secret is sealed with the keyring (``staff_mfa:<staff id>``); the database never holds it in clear.
- A code is accepted once: the last accepted time step is kept, and only a later step passes (a conditional
  UPDATE, so two requests racing with the same code cannot both win).
- Ten recovery codes (80 random bits each) are shown once at enrolment; only their SHA-256 is kept, and each
  opens one login (again a conditional UPDATE).
- Wrong codes are limited twice: a pending login ends after :data:`MAX_ATTEMPTS` wrong codes (counted before the
  code is checked, atomically), and after :data:`FREE_FAILURES` wrong codes in a row on an account each further
  attempt waits a growing delay, up to :data:`MAX_DELAY`, so logging in again does not buy more guesses.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import auth
from server.crypto import digest
from server.errors import InvalidInput, TooManyAttempts
from server.models import MfaPendingLogin, MfaRecoveryCode, Staff, StaffMfa, utcnow
from server.sealing import Keyring

MFA_COOKIE = "ascolto_mfa"  # the pending login's cookie, sent to the /login pages only
STEP_SECONDS = 30  # RFC 6238's default, what every authenticator app uses
DRIFT_STEPS = 1  # a code of the previous or the next step is accepted too (clock drift, slow typing)
PENDING_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5  # wrong codes per pending login; the next login needs the password again
FREE_FAILURES = 5  # wrong codes in a row on an account before each further attempt waits
MAX_DELAY = timedelta(minutes=15)
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read from paper


class WrongCode(Exception):
    """The code was not right (or was already used). ``ended``: that was the pending login's last attempt."""

    def __init__(self, ended: bool = False) -> None:
        super().__init__("wrong code")
        self.ended = ended


@dataclass(frozen=True)
class Pending:
    """A live pending login: whose, its CSRF token, where to go once the code is given."""

    id_hash: str
    staff: Staff
    csrf_token: str
    next_url: str
    enrolled: bool


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret (for typing in by hand) and its QR code as inline SVG."""

    secret: str
    uri: str
    qr_svg: str


@dataclass(frozen=True)
class Completed:
    """A finished login: the new session's cookie value, and the recovery codes when it was an enrolment."""

    session_secret: str
    next_url: str
    recovery_codes: tuple[str, ...] = ()


def _place(staff_id: str) -> str:
    return f"staff_mfa:{staff_id}"


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code, made here: no image from a third party."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="QR"))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (within :data:`DRIFT_STEPS`), or None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))  # 16 x log2(31) = 79 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def recovery_hash(staff_id: str, code: str) -> str:
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    return digest(f"{staff_id}:{normal}")


# --- pending logins ---------------------------------------------------------------------------------------


async def pending(sessionmaker: async_sessionmaker[AsyncSession], secret: str) -> Pending | None:
    """The live pending login behind a cookie value, or None (expired ones are deleted on sight)."""
    async with sessionmaker.begin() as db:
        row = await db.get(MfaPendingLogin, digest(secret))
        if row is None:
            return None
        staff = await db.get(Staff, row.staff_id)
        if row.created_at + PENDING_LIFETIME <= utcnow() or staff is None or not staff.active:
            await db.delete(row)
            return None
        confirmed = await db.scalar(select(StaffMfa.confirmed_at).where(StaffMfa.staff_id == staff.id))
        return Pending(row.id_hash, staff, row.csrf_token, row.next_url, confirmed is not None)


async def _spend_attempt(db: AsyncSession, item: Pending, now: datetime) -> None:
    """Count an attempt before checking it (atomically); refuse when the account must wait."""
    spent = await db.execute(
        update(MfaPendingLogin)
        .where(MfaPendingLogin.id_hash == item.id_hash, MfaPendingLogin.failures < MAX_ATTEMPTS)
        .values(failures=MfaPendingLogin.failures + 1)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise WrongCode(ended=True)
    locked_until = await db.scalar(select(StaffMfa.locked_until).where(StaffMfa.staff_id == item.staff.id))
    if locked_until is not None and locked_until > now:
        raise TooManyAttempts("too many wrong codes; try again later", int((locked_until - now).total_seconds()) + 1)


async def _wrong(sessionmaker: async_sessionmaker[AsyncSession], item: Pending, now: datetime) -> WrongCode:
    """Record a wrong code on the account (growing delay) and say whether the pending login is over."""
    async with sessionmaker.begin() as db:
        await db.execute(
            update(StaffMfa).where(StaffMfa.staff_id == item.staff.id).values(failures=StaffMfa.failures + 1)
        )
        failures = await db.scalar(select(StaffMfa.failures).where(StaffMfa.staff_id == item.staff.id)) or 0
        if failures >= FREE_FAILURES:
            delay = min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_DELAY)
            await db.execute(
                update(StaffMfa).where(StaffMfa.staff_id == item.staff.id).values(locked_until=now + delay)
            )
        row = await db.get(MfaPendingLogin, item.id_hash)
        ended = row is None or row.failures >= MAX_ATTEMPTS
        if row is not None and ended:
            await db.delete(row)
    return WrongCode(ended=ended)


async def _finish(db: AsyncSession, item: Pending) -> Completed:
    await db.execute(delete(MfaPendingLogin).where(MfaPendingLogin.id_hash == item.id_hash))
    await db.execute(update(StaffMfa).where(StaffMfa.staff_id == item.staff.id).values(failures=0, locked_until=None))
    session_secret, _csrf = auth.open_session(db, item.staff.id)
    return Completed(session_secret, item.next_url)


# --- logging in with a code -------------------------------------------------------------------------------


async def verify(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    item: Pending,
    code: str,
    now: datetime | None = None,
) -> Completed:
    """Check a TOTP or recovery code for an enrolled member's pending login; on success open the session.

    Raises :class:`WrongCode` (``ended`` when no attempt is left) or :class:`TooManyAttempts`."""
    now = now or utcnow()
    async with sessionmaker.begin() as db:
        await _spend_attempt(db, item, now)
        mfa = await db.get(StaffMfa, item.staff.id)
        if mfa is not None and mfa.confirmed_at is not None:
            step = matching_step(keyring.open(mfa.sealed_secret, _place(item.staff.id)), code, now)
            if step is not None:
                used = await db.execute(
                    update(StaffMfa)
                    .where(StaffMfa.staff_id == item.staff.id, StaffMfa.last_step < step)
                    .values(last_step=step)
                )
                if used.rowcount == 1:  # type: ignore[attr-defined]
                    return await _finish(db, item)
            elif len(code.strip()) > 8:
                used = await db.execute(
                    update(MfaRecoveryCode)
                    .where(
                        MfaRecoveryCode.code_hash == recovery_hash(item.staff.id, code),
                        MfaRecoveryCode.staff_id == item.staff.id,
                        MfaRecoveryCode.used_at.is_(None),
                    )
                    .values(used_at=now)
                )
                if used.rowcount == 1:  # type: ignore[attr-defined]
                    return await _finish(db, item)
    raise await _wrong(sessionmaker, item, now)


# --- enrolment --------------------------------------------------------------------------------------------


async def begin_enrolment(
    sessionmaker: async_sessionmaker[AsyncSession], keyring: Keyring, item: Pending, issuer: str
) -> Enrolment:
    """The secret being enrolled (made and sealed on first view; the same one until confirmed)."""
    if item.enrolled:
        raise InvalidInput("already enrolled")
    async with sessionmaker.begin() as db:
        mfa = await db.get(StaffMfa, item.staff.id)
        if mfa is None:
            secret = pyotp.random_base32()
            db.add(StaffMfa(staff_id=item.staff.id, sealed_secret=keyring.seal(secret, _place(item.staff.id))))
        else:
            secret = keyring.open(mfa.sealed_secret, _place(item.staff.id))
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=item.staff.email, issuer_name=issuer)
    return Enrolment(secret=secret, uri=uri, qr_svg=qr_svg(uri))


async def confirm_enrolment(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    item: Pending,
    code: str,
    now: datetime | None = None,
) -> Completed:
    """The first code confirms the secret: store ten recovery codes (hashed) and open the session. The codes
    are in the result, to be shown once."""
    now = now or utcnow()
    async with sessionmaker.begin() as db:
        await _spend_attempt(db, item, now)
        mfa = await db.get(StaffMfa, item.staff.id)
        if mfa is not None and mfa.confirmed_at is None:
            step = matching_step(keyring.open(mfa.sealed_secret, _place(item.staff.id)), code, now)
            if step is not None:
                mfa.confirmed_at, mfa.last_step = now, step
                codes = tuple(new_recovery_code() for _ in range(RECOVERY_CODES))
                await db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.staff_id == item.staff.id))
                db.add_all(
                    MfaRecoveryCode(code_hash=recovery_hash(item.staff.id, c), staff_id=item.staff.id) for c in codes
                )
                done = await _finish(db, item)
                return Completed(done.session_secret, done.next_url, codes)
    raise await _wrong(sessionmaker, item, now)


async def is_enrolled(sessionmaker: async_sessionmaker[AsyncSession], staff_ids: list[str]) -> set[str]:
    """Which of these staff members have a confirmed second factor."""
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(StaffMfa.staff_id).where(StaffMfa.staff_id.in_(staff_ids), StaffMfa.confirmed_at.is_not(None))
        )
        return set(rows)


async def forget(db: AsyncSession, staff_id: str) -> None:
    """Remove a member's second factor, recovery codes and pending logins (in the caller's transaction): their
    next login leads them through enrolment again."""
    await db.execute(delete(StaffMfa).where(StaffMfa.staff_id == staff_id))
    await db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.staff_id == staff_id))
    await db.execute(delete(MfaPendingLogin).where(MfaPendingLogin.staff_id == staff_id))
