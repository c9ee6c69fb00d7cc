"""Staff accounts after creation: one's own password; the coordinator's role change, disable/enable and second
factor reset. Each of the coordinator's actions is audited, and each that changes what a member may do ends that
member's sessions (the signaling sockets notice the change and close with 4001). The last active coordinator
cannot be demoted or disabled: someone must remain who can manage staff.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import actors, audit, auth, mfa
from server.errors import InvalidInput, NotFound
from server.models import MfaPendingLogin, Role, Staff, StaffSession


@dataclass(frozen=True)
class StaffRow:
    """A line of the coordinator's staff page."""

    staff: Staff
    mfa_enrolled: bool


async def list_staff(sessionmaker: async_sessionmaker[AsyncSession]) -> list[StaffRow]:
    async with sessionmaker() as db:
        members = list((await db.scalars(select(Staff).order_by(Staff.active.desc(), Staff.name, Staff.email))).all())
    enrolled = await mfa.is_enrolled(sessionmaker, [m.id for m in members])
    return [StaffRow(member, member.id in enrolled) for member in members]


async def end_sessions(db: AsyncSession, staff_id: str, *, keep: str | None = None) -> None:
    """Delete a member's sessions (but ``keep``, a session's id hash) and pending logins, in the caller's
    transaction."""
    sessions = delete(StaffSession).where(StaffSession.staff_id == staff_id)
    if keep is not None:
        sessions = sessions.where(StaffSession.id_hash != keep)
    await db.execute(sessions)
    await db.execute(delete(MfaPendingLogin).where(MfaPendingLogin.staff_id == staff_id))


async def change_password(
    sessionmaker: async_sessionmaker[AsyncSession],
    staff_id: str,
    *,
    current: str,
    new: str,
    confirm: str,
) -> str:
    """Change one's own password (the current one is required). Every other session of the member ends; this
    one is replaced by a fresh one (rotation), whose cookie value is returned. Raises :class:`InvalidInput` with
    the field to fix (``current``, ``new`` or ``confirm``)."""
    async with sessionmaker() as db:
        staff = await db.get(Staff, staff_id)
    if staff is None:
        raise NotFound("no such staff member")
    if not await auth.verify_password(staff.password_hash, current):
        raise InvalidInput("wrong password", {"current": "wrong"})
    if new != confirm:
        raise InvalidInput("the passwords differ", {"confirm": "mismatch"})
    if new == current:
        raise InvalidInput("the same password", {"new": "same"})
    try:
        password_hash = await auth.hash_password(new)
    except InvalidInput:
        raise InvalidInput("too short", {"new": "too_short"}) from None
    async with sessionmaker.begin() as db:
        staff = await db.get(Staff, staff_id, with_for_update=True)
        if staff is None:
            raise NotFound("no such staff member")
        staff.password_hash = password_hash
        await end_sessions(db, staff_id)
        secret, _csrf = auth.open_session(db, staff_id)
        audit.record(db, actors.staff(staff_id), "password_change", "staff", staff_id)
    return secret


async def _target(db: AsyncSession, staff_id: str) -> Staff:
    staff = await db.get(Staff, staff_id, with_for_update=True)
    if staff is None:
        raise NotFound("no such staff member")
    return staff


async def _keep_a_coordinator(db: AsyncSession, staff: Staff, field: str) -> None:
    """Refuse a change that would leave no active coordinator (the coordinators' rows are locked meanwhile)."""
    if staff.role != Role.COORDINATOR or not staff.active:
        return
    await db.execute(select(Staff.id).where(Staff.role == Role.COORDINATOR).with_for_update())
    others = await db.scalar(
        select(func.count())
        .select_from(Staff)
        .where(Staff.role == Role.COORDINATOR, Staff.active.is_(True), Staff.id != staff.id)
    )
    if not others:
        raise InvalidInput("the last coordinator", {field: "last_coordinator"})


async def change_role(sessionmaker: async_sessionmaker[AsyncSession], actor: str, staff_id: str, role: str) -> None:
    try:
        new_role = Role(role)
    except ValueError:
        raise InvalidInput("unknown role", {"role": "unknown"}) from None
    async with sessionmaker.begin() as db:
        staff = await _target(db, staff_id)
        if staff.role == new_role:
            return
        if new_role != Role.COORDINATOR:
            await _keep_a_coordinator(db, staff, "role")
        staff.role = new_role
        await end_sessions(db, staff_id)
        audit.record(db, actor, f"staff_role_{new_role.value}", "staff", staff_id)


async def set_active(sessionmaker: async_sessionmaker[AsyncSession], actor: str, staff_id: str, active: bool) -> None:
    async with sessionmaker.begin() as db:
        staff = await _target(db, staff_id)
        if staff.active == active:
            return
        if not active:
            await _keep_a_coordinator(db, staff, "active")
            await end_sessions(db, staff_id)
        staff.active = active
        audit.record(db, actor, "staff_enable" if active else "staff_disable", "staff", staff_id)


async def reset_mfa(sessionmaker: async_sessionmaker[AsyncSession], actor: str, staff_id: str) -> None:
    """Forget a member's second factor (lost phone): their sessions end and the next login enrols again."""
    async with sessionmaker.begin() as db:
        await _target(db, staff_id)
        await mfa.forget(db, staff_id)
        await end_sessions(db, staff_id)
        audit.record(db, actor, "staff_mfa_reset", "staff", staff_id)
