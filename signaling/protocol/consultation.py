"""The messages only the 1:1 consultation socket ``/ws`` uses (``docs/signaling.md``); the ones group rooms use
too are in :mod:`signaling.protocol.messages`. Import them through :mod:`signaling.protocol`, which re-exports every
message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from msgspec import Struct

from signaling.protocol.messages import (
    Answer,
    Candidate,
    ClientMessageBase,
    Id,
    Offer,
    ServerMessageBase,
    State,
    _Relayed,
)

Role = Literal["operator", "citizen"]

# -- client -> server ------------------------------------------------------------------------------------------


class Decline(ClientMessageBase, frozen=True, tag="decline"):
    type: ClassVar[Literal["decline"]] = "decline"
    id: Id


class Renegotiate(_Relayed, frozen=True, tag="renegotiate"):
    type: ClassVar[Literal["renegotiate"]] = "renegotiate"
    to: Id


Relayed = Offer | Answer | Candidate | Renegotiate

# -- server -> client ------------------------------------------------------------------------------------------


class Peer(Struct, frozen=True):
    """Someone in the call, as shown to the others."""

    id: str
    role: Role
    name: str
    audio: bool = True
    video: bool = True


class Welcome(ServerMessageBase, frozen=True, tag="welcome"):
    id: str
    role: Role
    room: str
    state: State
    peers: tuple[Peer, ...]
    ice_servers: tuple[Mapping[str, Any], ...] = ()


class Admitted(ServerMessageBase, frozen=True, tag="admitted"):
    peers: tuple[Peer, ...]


class Declined(ServerMessageBase, frozen=True, tag="declined"):
    pass


class PeerJoined(ServerMessageBase, frozen=True, tag="peer_joined"):
    id: str
    role: Role
    name: str


class Relay(Struct, frozen=True):
    """An offer, answer, candidate or renegotiate request passed on, with ``from`` set by the server."""

    sender: str
    message: Relayed
