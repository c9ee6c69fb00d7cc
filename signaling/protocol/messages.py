"""The messages both room kinds use, as frozen :class:`msgspec.Struct` types, and the bases and field types every
message is built on (the 1:1 socket's own messages are in :mod:`signaling.protocol.consultation`, the group rooms'
in :mod:`signaling.protocol.group`).

The structs *are* the schema: :func:`signaling.protocol.parse` decodes and validates a frame against them in one
pass (types, sizes, the ``type`` tag, unknown fields ignored). Server messages are only ever encoded. Import them
through :mod:`signaling.protocol`, which re-exports every message. The wire format is ``docs/signaling.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from msgspec import UNSET, Meta, Raw, Struct, UnsetType, field

VERSION = 1
MAX_SDP = 32 * 1024
MAX_CHAT = 2000
MAX_ID = 64
MAX_CANDIDATE = 1024

State = Literal["waiting", "in_call"]

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID)]
Sdp = Annotated[str, Meta(min_length=1, max_length=MAX_SDP)]
ChatText = Annotated[str, Meta(min_length=1, max_length=MAX_CHAT)]
ShortText = Annotated[str, Meta(max_length=MAX_ID)]


def iso(moment: datetime) -> str:
    """A time as the protocol writes it: ISO 8601 in UTC with a ``Z``, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- client -> server ------------------------------------------------------------------------------------------


class ClientMessageBase(
    Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=False, repr_omit_defaults=True
):
    """A client frame. ``v`` is the version the client sent (required on the wire; UNSET when built in code)."""

    v: Literal[1] | UnsetType = UNSET


class _Relayed(ClientMessageBase, frozen=True, kw_only=True, dict=True):
    """A message relayed to one peer. ``raw`` is the validated frame as sent (set by ``parse``) for a cheap relay;
    ``client_from`` is a ``from`` the client put in it, which is never passed on."""

    client_from: Raw = field(name="from", default=Raw())
    raw: ClassVar[str] = ""  # the instance's own value lives in its __dict__


class IceCandidate(Struct, frozen=True, repr_omit_defaults=True, gc=False):  # scalars only: no cycles
    """An ``RTCIceCandidateInit`` (W3C names)."""

    candidate: Annotated[str, Meta(max_length=MAX_CANDIDATE)]
    sdpMid: ShortText | None = None
    sdpMLineIndex: Annotated[int, Meta(ge=0, le=1023)] | None = None
    usernameFragment: ShortText | None = None


class Join(ClientMessageBase, frozen=True, tag="join"):
    type: ClassVar[Literal["join"]] = "join"
    room: Id


class Admit(ClientMessageBase, frozen=True, tag="admit"):
    type: ClassVar[Literal["admit"]] = "admit"
    id: Id


class End(ClientMessageBase, frozen=True, tag="end"):
    type: ClassVar[Literal["end"]] = "end"


class Leave(ClientMessageBase, frozen=True, tag="leave"):
    type: ClassVar[Literal["leave"]] = "leave"


class Offer(_Relayed, frozen=True, tag="offer"):
    type: ClassVar[Literal["offer"]] = "offer"
    to: Id
    sdp: Sdp


class Answer(_Relayed, frozen=True, tag="answer"):
    type: ClassVar[Literal["answer"]] = "answer"
    to: Id
    sdp: Sdp


class Candidate(_Relayed, frozen=True, tag="candidate"):
    type: ClassVar[Literal["candidate"]] = "candidate"
    to: Id
    candidate: IceCandidate | None = None  # null or absent: end of candidates


class Media(ClientMessageBase, frozen=True, tag="media"):
    type: ClassVar[Literal["media"]] = "media"
    audio: bool
    video: bool


class Chat(ClientMessageBase, frozen=True, tag="chat"):
    type: ClassVar[Literal["chat"]] = "chat"
    text: ChatText


# -- server -> client ------------------------------------------------------------------------------------------


class Waiting(Struct, frozen=True):
    """Someone in the lobby; ``since`` is an ISO 8601 UTC time."""

    id: str
    name: str
    since: str


class ServerMessageBase(Struct, frozen=True, kw_only=True, tag_field="type"):
    v: Literal[1] = 1


class Lobby(ServerMessageBase, frozen=True, tag="lobby"):
    waiting: tuple[Waiting, ...]


class PeerLeft(ServerMessageBase, frozen=True, tag="peer_left"):
    id: str


class MediaState(ServerMessageBase, frozen=True, tag="media"):
    sender: str = field(name="from")
    audio: bool
    video: bool


class ChatLine(ServerMessageBase, frozen=True, tag="chat"):
    sender: str = field(name="from")
    name: str
    text: str
    at: str


class Ended(ServerMessageBase, frozen=True, tag="ended"):
    reason: str = "operator_ended"


class Error(ServerMessageBase, frozen=True, tag="error"):
    code: str
    message: str
    ref: str | None = None
