"""The signaling protocol (version 1) as typed messages, with pure ``parse`` and ``serialise``.

``parse(text)`` turns one client frame into a frozen :class:`msgspec.Struct` or raises :class:`ProtocolError`;
``serialise(msg)`` turns a server message into one JSON text frame. The room logic never sees raw JSON. The wire
format is documented in ``docs/signaling.md``.

The structs *are* the schema: msgspec decodes and validates a frame in one pass (types, sizes, the ``type`` tag,
unknown fields ignored). Only a rejected frame is looked at again, to give the error the protocol's code, a
message a developer can act on, and ``ref``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, get_args

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType, field

VERSION = 1
MAX_SDP = 32 * 1024
MAX_CHAT = 2000
MAX_ID = 64
MAX_CANDIDATE = 1024

Role = Literal["operator", "citizen"]
State = Literal["waiting", "in_call"]

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID)]
Sdp = Annotated[str, Meta(min_length=1, max_length=MAX_SDP)]
ChatText = Annotated[str, Meta(min_length=1, max_length=MAX_CHAT)]
ShortText = Annotated[str, Meta(max_length=MAX_ID)]


class ProtocolError(Exception):
    """An invalid client message. ``code`` is one of the error codes of the protocol; ``ref`` the message type."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


# -- client -> server ------------------------------------------------------------------------------------------


class _ClientMessage(
    Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=False, repr_omit_defaults=True
):
    """A client frame. ``v`` is the version the client sent (required on the wire; UNSET when built in code)."""

    v: Literal[1] | UnsetType = UNSET


class _Relayed(_ClientMessage, frozen=True, kw_only=True, dict=True):
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


class Join(_ClientMessage, frozen=True, tag="join"):
    type: ClassVar[Literal["join"]] = "join"
    room: Id


class Admit(_ClientMessage, frozen=True, tag="admit"):
    type: ClassVar[Literal["admit"]] = "admit"
    id: Id


class Decline(_ClientMessage, frozen=True, tag="decline"):
    type: ClassVar[Literal["decline"]] = "decline"
    id: Id


class End(_ClientMessage, frozen=True, tag="end"):
    type: ClassVar[Literal["end"]] = "end"


class Leave(_ClientMessage, frozen=True, tag="leave"):
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


class Renegotiate(_Relayed, frozen=True, tag="renegotiate"):
    type: ClassVar[Literal["renegotiate"]] = "renegotiate"
    to: Id


class Media(_ClientMessage, frozen=True, tag="media"):
    type: ClassVar[Literal["media"]] = "media"
    audio: bool
    video: bool


class Chat(_ClientMessage, frozen=True, tag="chat"):
    type: ClassVar[Literal["chat"]] = "chat"
    text: ChatText


ClientMessage = Join | Admit | Decline | End | Leave | Offer | Answer | Candidate | Renegotiate | Media | Chat
Relayed = Offer | Answer | Candidate | Renegotiate

MESSAGE_TYPES: frozenset[str] = frozenset(kind.type for kind in get_args(ClientMessage))

# -- server -> client ------------------------------------------------------------------------------------------


class Peer(Struct, frozen=True):
    """Someone in the call, as shown to the others."""

    id: str
    role: Role
    name: str
    audio: bool = True
    video: bool = True


class Waiting(Struct, frozen=True):
    """Someone in the lobby; ``since`` is an ISO 8601 UTC time."""

    id: str
    name: str
    since: str


class _ServerMessage(Struct, frozen=True, kw_only=True, tag_field="type"):
    v: Literal[1] = 1


class Welcome(_ServerMessage, frozen=True, tag="welcome"):
    id: str
    role: Role
    room: str
    state: State
    peers: tuple[Peer, ...]
    ice_servers: tuple[Mapping[str, Any], ...] = ()


class Lobby(_ServerMessage, frozen=True, tag="lobby"):
    waiting: tuple[Waiting, ...]


class Admitted(_ServerMessage, frozen=True, tag="admitted"):
    peers: tuple[Peer, ...]


class Declined(_ServerMessage, frozen=True, tag="declined"):
    pass


class PeerJoined(_ServerMessage, frozen=True, tag="peer_joined"):
    id: str
    role: Role
    name: str


class PeerLeft(_ServerMessage, frozen=True, tag="peer_left"):
    id: str


class Relay(Struct, frozen=True):
    """An offer, answer, candidate or renegotiate request passed on, with ``from`` set by the server."""

    sender: str
    message: Relayed


class MediaState(_ServerMessage, frozen=True, tag="media"):
    sender: str = field(name="from")
    audio: bool
    video: bool


class ChatLine(_ServerMessage, frozen=True, tag="chat"):
    sender: str = field(name="from")
    name: str
    text: str
    at: str


class Ended(_ServerMessage, frozen=True, tag="ended"):
    reason: str = "operator_ended"


class Error(_ServerMessage, frozen=True, tag="error"):
    code: str
    message: str
    ref: str | None = None


ServerMessage = (
    Welcome | Lobby | Admitted | Declined | PeerJoined | PeerLeft | Relay | MediaState | ChatLine | Ended | Error
)

# -- parsing ---------------------------------------------------------------------------------------------------

_decode = msgspec.json.Decoder(ClientMessage).decode
# The relayed types, most frequent first: isinstance() against a Struct class is quick for an exact match and
# slower (~0.1 us) for a miss, so test for these with isinstance(msg, RELAYED) rather than for a base class.
RELAYED = (Candidate, Offer, Answer, Renegotiate)


def parse(text: str) -> ClientMessage:
    """One client text frame -> a typed message. Raises :class:`ProtocolError` on anything invalid."""
    try:
        msg = _decode(text)
    except msgspec.ValidationError as exc:
        raise _rejected(text, str(exc)) from None
    except (msgspec.DecodeError, RecursionError):
        raise ProtocolError("invalid_json", "the message is not valid JSON") from None
    if msg.v is UNSET:
        raise ProtocolError("invalid_message", "field 'v' (the protocol version) is required", msg.type)
    # A relayed frame is passed on as sent plus "from"; one that carries its own "from" is re-encoded instead.
    if isinstance(msg, RELAYED) and not msg.client_from:
        msg.__dict__["raw"] = text
    return msg


def _rejected(text: str, reason: str) -> ProtocolError:
    """Why a frame that msgspec rejected is invalid, checked in the protocol's order: JSON, object, ``v``, ``type``,
    then the fields (whose reason msgspec gave)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return ProtocolError("invalid_json", "the message is not valid JSON")
    if not isinstance(data, dict):
        return ProtocolError("invalid_message", "the message must be a JSON object")
    kind = data.get("type")
    ref = kind if isinstance(kind, str) and kind in MESSAGE_TYPES else None
    version = data.get("v")
    if type(version) is not int:
        return ProtocolError("invalid_message", "field 'v' must be an integer", ref)
    if version != VERSION:
        return ProtocolError("unsupported_version", f"protocol version {VERSION} only", ref)
    if not isinstance(kind, str):
        return ProtocolError("invalid_message", "field 'type' must be a string")
    if ref is None:
        return ProtocolError("unknown_type", "unknown message type")
    return ProtocolError("invalid_message", explain(reason), ref)


_KINDS = {"str": "a string", "int": "an integer", "bool": "a boolean", "object": "an object", "array": "an array"}
_EXPECTED = re.compile(r"Expected `([^`]+)`, got `[^`]+`")
_LENGTH = re.compile(r"Expected `str` of length ([<>])= (\d+)")
_BOUND = re.compile(r"Expected `int` ([<>])= (\d+)")
_MISSING = re.compile(r"Object missing required field `([^`]+)`")


def explain(reason: str) -> str:
    """msgspec's ``ValidationError`` text -> a sentence in the protocol's words, naming the field.

    ``Expected `str`, got `int` - at `$.room``` -> ``field 'room' must be a string``.
    """
    detail, _, where = reason.partition(" - at `$")
    path = where.rstrip("`").lstrip(".")
    if match := _MISSING.fullmatch(detail):
        return f"field '{path + '.' if path else ''}{match[1]}' is required"
    if match := _EXPECTED.fullmatch(detail):
        kinds = " or ".join(_KINDS.get(kind, kind) for kind in match[1].split(" | "))
        return f"field '{path}' must be {kinds}"
    if match := _LENGTH.fullmatch(detail):
        if match[1] == ">" and match[2] == "1":
            return f"field '{path}' must not be empty"
        return f"field '{path}' must be at {'most' if match[1] == '<' else 'least'} {match[2]} characters"
    if match := _BOUND.fullmatch(detail):
        return f"field '{path}' must be an integer {'at most' if match[1] == '<' else 'at least'} {match[2]}"
    return f"field '{path}' is invalid ({detail})" if path else f"invalid message ({detail})"


# -- serialising -----------------------------------------------------------------------------------------------

_encode = msgspec.json.Encoder().encode


@lru_cache(maxsize=4096)
def _from(sender: str) -> str:
    """What a relayed frame as sent starts with instead of its ``{``."""
    return '{"from":' + _encode(sender).decode() + ","


def _ice(candidate: IceCandidate | None) -> dict[str, Any] | None:
    if candidate is None:
        return None
    out: dict[str, Any] = {
        "candidate": candidate.candidate,
        "sdpMid": candidate.sdpMid,
        "sdpMLineIndex": candidate.sdpMLineIndex,
    }
    if candidate.usernameFragment is not None:
        out["usernameFragment"] = candidate.usernameFragment
    return out


def _relay_anew(msg: Relay) -> str:
    inner = msg.message
    out: dict[str, Any] = {"v": VERSION, "type": inner.type, "from": msg.sender}
    if isinstance(inner, Offer | Answer):
        out["sdp"] = inner.sdp
    elif isinstance(inner, Candidate):
        out["candidate"] = _ice(inner.candidate)
    return _encode(out).decode()


def serialise(msg: ServerMessage) -> str:
    """A server message -> one JSON text frame (compact, UTF-8).

    A relayed offer, answer, candidate or renegotiate request that was parsed from a frame without a ``from`` is
    passed on as sent with ``from`` put first: the hot relay path then costs a string concatenation instead of an
    encoding. (``parse`` has validated the frame, and JSON readers keep the last of duplicate keys: there is none,
    since a frame carrying any ``from`` key, however escaped, is re-encoded instead.)
    """
    if type(msg) is Relay:
        raw = msg.message.raw
        if raw:  # one copy: the first "{" of a frame that decoded as an object opens that object
            return raw.replace("{", _from(msg.sender), 1)
        return _relay_anew(msg)
    return _encode(msg).decode()
