"""The messages only the 1:1 consultation socket ``/ws`` uses (``docs/signaling.md``), declared as
:mod:`signaling.protocol.messages` says; the ones group rooms use too are there. Import them through
:mod:`signaling.protocol`, which re-exports every message."""

from __future__ import annotations

from typing import ClassVar, Literal

from msgspec import Struct

from signaling.protocol.messages import (
    CONSULTATION,
    Answer,
    Candidate,
    ClientMessageBase,
    IceServer,
    Id,
    Message,
    Offer,
    RelayedBase,
    ServerMessageBase,
    State,
)

Role = Literal["operator", "citizen"]

# -- client -> server ------------------------------------------------------------------------------------------


class Decline(ClientMessageBase, frozen=True):
    type: ClassVar[Literal["decline"]] = "decline"
    sockets = (CONSULTATION,)
    id: Id


class Renegotiate(RelayedBase, frozen=True):
    type: ClassVar[Literal["renegotiate"]] = "renegotiate"
    sockets = (CONSULTATION,)
    to: Id


Relayed = Offer | Answer | Candidate | Renegotiate
ConsultationClientMessage = Decline | Renegotiate

# -- server -> client ------------------------------------------------------------------------------------------


class Peer(Struct, frozen=True):
    """Someone in the call, as shown to the others."""

    id: str
    role: Role
    name: str
    audio: bool = True
    video: bool = True


class Welcome(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["welcome"]] = "welcome"
    sockets = (CONSULTATION,)
    id: str
    role: Role
    room: str
    state: State
    peers: tuple[Peer, ...]
    ice_servers: tuple[IceServer, ...] = ()


class Admitted(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["admitted"]] = "admitted"
    sockets = (CONSULTATION,)
    peers: tuple[Peer, ...]


class Declined(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["declined"]] = "declined"
    sockets = (CONSULTATION,)


class PeerJoined(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["peer_joined"]] = "peer_joined"
    sockets = (CONSULTATION,)
    id: str
    role: Role
    name: str


class Relay(Message, frozen=True):
    """An offer, answer, candidate or renegotiate request passed on, with ``from`` set by the server: its ``type``
    is the relayed message's."""

    sockets = (CONSULTATION,)
    sender: str
    message: Relayed


ConsultationServerMessage = Welcome | Admitted | Declined | PeerJoined | Relay
