"""Who did something, written one way everywhere: the audit log's actors, a booking's ``booked_by``, a case's
``opened_by``, the idempotency scopes of the API and the identity keys of the signaling sockets.

A staff member is ``"staff:<id>"``; a citizen is ``"citizen"`` (an actor) or ``"citizen:<pass digest>"`` (a
socket's identity, one per link); background jobs are ``"system"``.
"""

from __future__ import annotations

STAFF_PREFIX = "staff:"
CITIZEN = "citizen"
SYSTEM = "system"


def staff(staff_id: str) -> str:
    """A staff member as an actor or an identity key: ``"staff:<id>"``."""
    return STAFF_PREFIX + staff_id


def staff_id(actor: str) -> str | None:
    """The staff id in ``"staff:<id>"``, or None for any other actor."""
    return actor.removeprefix(STAFF_PREFIX) if actor.startswith(STAFF_PREFIX) else None


def citizen(pass_digest: str) -> str:
    """A citizen's identity key, one per link: ``"citizen:<pass digest>"``."""
    return f"{CITIZEN}:{pass_digest}"
