"""The messages both room kinds use, the bases every message is built on, and the field types.

Each message is declared once, as a frozen :class:`msgspec.Struct`: its ``type`` (a ``ClassVar``, which is also
its msgspec tag), its fields, its direction (the base it derives from: :class:`ClientMessageBase` for client ->
server, :class:`ServerMessageBase` for server -> client) and ``sockets``, the endpoints that accept it (a client
message) or send it (a server message). :mod:`signaling.protocol` derives everything else from these declarations:
the parser's decoder, the types each socket accepts, and the checks on its ``ClientMessage`` and ``ServerMessage``
unions. The messages only the 1:1 socket uses are in :mod:`signaling.protocol.consultation`, the group rooms' own
in :mod:`signaling.protocol.group`; import them all through :mod:`signaling.protocol`.

The structs *are* the schema: :func:`signaling.protocol.parse` decodes and validates a frame against them in one
pass (types, sizes, the ``type`` tag, unknown fields ignored). Server messages are only ever encoded. The wire format
is ``docs/signaling.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Final, Literal, Required, TypedDict

from msgspec import UNSET, Meta, Raw, Struct, StructMeta, UnsetType, field

VERSION = 1
MAX_SDP = 32 * 1024
MAX_CHAT = 2000
MAX_ID = 64
MAX_CANDIDATE = 1024

Socket = Literal["/ws", "/ws/group", "/ws/alerts"]
CONSULTATION: Final = "/ws"
GROUP: Final = "/ws/group"
ALERTS: Final = "/ws/alerts"
BOTH: Final = (CONSULTATION, GROUP)  # the sockets of rooms

State = Literal["waiting", "in_call"]

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID)]
Sdp = Annotated[str, Meta(min_length=1, max_length=MAX_SDP)]
ChatText = Annotated[str, Meta(min_length=1, max_length=MAX_CHAT)]
ShortText = Annotated[str, Meta(max_length=MAX_ID)]

IceServer = Mapping[str, object]  # an RTCIceServer dictionary (urls, username, credential), as configured


class IceCandidateInit(TypedDict, total=False):
    """An ``RTCIceCandidateInit`` dictionary (W3C names), as an SFU takes and gives it."""

    candidate: Required[str]
    sdpMid: str | None
    sdpMLineIndex: int | None
    usernameFragment: str


def iso(moment: datetime) -> str:
    """A time as the protocol writes it: ISO 8601 in UTC with a ``Z``, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Message(Struct, frozen=True):
    """Any message of the protocol. A message class (rather than a base) declares ``sockets``."""

    sockets: ClassVar[tuple[Socket, ...]]


class _Tagged(StructMeta):
    """Makes a message's ``type`` its msgspec tag, so that the name is written once. (Only the tagged bases use it:
    a class of this metaclass is a little slower to construct, and the relay builds a :class:`Relay` per frame.)"""

    # The class namespace and msgspec's class options hold values of any type, as type.__new__'s do.
    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **options: Any) -> _Tagged:
        kind = namespace.get("type")
        if isinstance(kind, str):
            options.setdefault("tag", kind)
        return super().__new__(mcls, name, bases, namespace, **options)


# -- client -> server ------------------------------------------------------------------------------------------


class ClientMessageBase(
    Message,
    metaclass=_Tagged,
    frozen=True,
    kw_only=True,
    tag_field="type",
    forbid_unknown_fields=False,
    repr_omit_defaults=True,
):
    """A client frame. ``v`` is the version the client sent (required on the wire; UNSET when built in code).
    ``sockets``: the endpoints that accept it."""

    type: ClassVar[str]  # each message's own, a Literal: what the type checker narrows a ClientMessage by
    v: Literal[1] | UnsetType = UNSET


class RelayedBase(ClientMessageBase, frozen=True, kw_only=True, dict=True):
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


class Join(ClientMessageBase, frozen=True):
    type: ClassVar[Literal["join"]] = "join"
    sockets = BOTH
    room: Id


class Admit(ClientMessageBase, frozen=True):
    type: ClassVar[Literal["admit"]] = "admit"
    sockets = BOTH
    id: Id


class End(ClientMessageBase, frozen=True):
    type: ClassVar[Literal["end"]] = "end"
    sockets = BOTH


class Leave(ClientMessageBase, frozen=True):
    type: ClassVar[Literal["leave"]] = "leave"
    sockets = BOTH


class Offer(RelayedBase, frozen=True):
    type: ClassVar[Literal["offer"]] = "offer"
    sockets = BOTH
    to: Id
    sdp: Sdp


class Answer(RelayedBase, frozen=True):
    type: ClassVar[Literal["answer"]] = "answer"
    sockets = BOTH
    to: Id
    sdp: Sdp


class Candidate(RelayedBase, frozen=True):
    type: ClassVar[Literal["candidate"]] = "candidate"
    sockets = BOTH
    to: Id
    candidate: IceCandidate | None = None  # null or absent: end of candidates


class Media(ClientMessageBase, frozen=True):
    type: ClassVar[Literal["media"]] = "media"
    sockets = BOTH
    audio: bool
    video: bool


class Chat(ClientMessageBase, frozen=True):
    type: ClassVar[Literal["chat"]] = "chat"
    sockets = BOTH
    text: ChatText


SharedClientMessage = Join | Admit | End | Leave | Offer | Answer | Candidate | Media | Chat

# -- server -> client ------------------------------------------------------------------------------------------


class Waiting(Struct, frozen=True):
    """Someone in the lobby; ``since`` is an ISO 8601 UTC time."""

    id: str
    name: str
    since: str


class ServerMessageBase(Message, metaclass=_Tagged, frozen=True, kw_only=True, tag_field="type"):
    """A server frame with a ``type`` of its own. ``sockets``: the endpoints that send it."""

    type: ClassVar[str]
    v: Literal[1] = 1


class Lobby(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["lobby"]] = "lobby"
    sockets = BOTH
    waiting: tuple[Waiting, ...]


class PeerLeft(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["peer_left"]] = "peer_left"
    sockets = BOTH
    id: str


class MediaState(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["media"]] = "media"
    sockets = BOTH
    sender: str = field(name="from")
    audio: bool
    video: bool


class ChatLine(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["chat"]] = "chat"
    sockets = BOTH
    sender: str = field(name="from")
    name: str
    text: str
    at: str


class Ended(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["ended"]] = "ended"
    sockets = BOTH
    reason: str = "operator_ended"


class Error(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["error"]] = "error"
    sockets = (CONSULTATION, GROUP, ALERTS)
    code: str
    message: str
    ref: str | None = None


SharedServerMessage = Lobby | PeerLeft | MediaState | ChatLine | Ended | Error
