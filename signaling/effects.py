"""What a room of either kind asks its hub to do with its sockets: send a message to some connections, close one.

Rooms are pure state machines (:mod:`signaling.consultation.room`, :mod:`signaling.group.room`): every method
returns a list of effects that the hub carries out, in order. These two are the effects both kinds emit and the
events of the bus (:mod:`signaling.bus`); each room kind adds its own (ending a consultation, the SFU's work).
"""

from __future__ import annotations

from msgspec import Struct

from signaling import protocol as p

CLOSE_NORMAL = 1000
CLOSE_REPLACED = 4000  # the same person joined the same room from another socket


class Send(Struct, frozen=True):
    """Send ``message`` to each of the connections ``to``."""

    to: tuple[str, ...]
    message: p.ServerMessage


class Close(Struct, frozen=True):
    """Close ``connection`` with ``code`` once the messages queued before it are sent."""

    connection: str
    code: int
    reason: str = ""
