"""The signaling protocol (version 1) as typed messages, with pure ``parse`` and ``serialise``.

``parse(text)`` turns one client frame into a frozen :class:`msgspec.Struct` or raises :class:`ProtocolError`;
``serialise(msg)`` turns a server message into one JSON text frame. The room logic never sees raw JSON. The wire
format is documented in ``docs/signaling.md`` (the 1:1 socket ``/ws``) and ``docs/supervision.md`` (group rooms,
``/ws/group``).

The message structs live in :mod:`signaling.protocol.messages` (both room kinds, and the bases),
:mod:`signaling.protocol.consultation` (1:1 only) and :mod:`signaling.protocol.group` (group rooms only); this
package re-exports all of them, so ``p.Offer`` or ``p.Mute`` is how callers name them. One decoder covers every
client message of both sockets: a hub refuses the types its rooms do not use
(:data:`ONE_TO_ONE_TYPES`, :data:`GROUP_TYPES`).

The structs *are* the schema: msgspec decodes and validates a frame in one pass (types, sizes, the ``type`` tag,
unknown fields ignored). Only a rejected frame is looked at again, to give the error the protocol's code, a
message a developer can act on, and ``ref``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, get_args

import msgspec
from msgspec import UNSET

from signaling.protocol.consultation import (
    Admitted,
    Decline,
    Declined,
    Peer,
    PeerJoined,
    Relay,
    Relayed,
    Renegotiate,
    Role,
    Welcome,
)
from signaling.protocol.group import (
    SFU,
    FeedSource,
    GroupAdmitted,
    GroupPeer,
    GroupPeerJoined,
    GroupRole,
    GroupWelcome,
    Hand,
    HandState,
    Lock,
    Locked,
    Moderated,
    Moderation,
    ModeratorAction,
    Mute,
    Remove,
    Removed,
    Screen,
    ScreenState,
    SfuCandidate,
    SfuSdp,
    Speakers,
    StopVideo,
    Track,
    Tracks,
)
from signaling.protocol.messages import (
    MAX_CANDIDATE,
    MAX_CHAT,
    MAX_ID,
    MAX_SDP,
    VERSION,
    Admit,
    Answer,
    Candidate,
    Chat,
    ChatLine,
    ChatText,
    ClientMessageBase,
    End,
    Ended,
    Error,
    IceCandidate,
    Id,
    Join,
    Leave,
    Lobby,
    Media,
    MediaState,
    Offer,
    PeerLeft,
    Sdp,
    ServerMessageBase,
    ShortText,
    State,
    Waiting,
)

__all__ = [
    "GROUP_TYPES",
    "MAX_CANDIDATE",
    "MAX_CHAT",
    "MAX_ID",
    "MAX_SDP",
    "MESSAGE_TYPES",
    "ONE_TO_ONE_TYPES",
    "RELAYED",
    "SFU",
    "VERSION",
    "Admit",
    "Admitted",
    "Answer",
    "Candidate",
    "Chat",
    "ChatLine",
    "ChatText",
    "ClientMessage",
    "ClientMessageBase",
    "Decline",
    "Declined",
    "End",
    "Ended",
    "Error",
    "FeedSource",
    "GroupAdmitted",
    "GroupPeer",
    "GroupPeerJoined",
    "GroupRole",
    "GroupWelcome",
    "Hand",
    "HandState",
    "IceCandidate",
    "Id",
    "Join",
    "Leave",
    "Lobby",
    "Lock",
    "Locked",
    "Media",
    "MediaState",
    "Moderated",
    "Moderation",
    "ModeratorAction",
    "Mute",
    "Offer",
    "Peer",
    "PeerJoined",
    "PeerLeft",
    "ProtocolError",
    "Relay",
    "Relayed",
    "Remove",
    "Removed",
    "Renegotiate",
    "Role",
    "Screen",
    "ScreenState",
    "Sdp",
    "ServerMessage",
    "ServerMessageBase",
    "SfuCandidate",
    "SfuSdp",
    "ShortText",
    "Speakers",
    "State",
    "StopVideo",
    "Track",
    "Tracks",
    "Waiting",
    "Welcome",
    "explain",
    "ice_init",
    "parse",
    "serialise",
]


class ProtocolError(Exception):
    """An invalid client message. ``code`` is one of the error codes of the protocol; ``ref`` the message type."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


ClientMessage = (
    Join | Admit | Decline | End | Leave | Offer | Answer | Candidate | Renegotiate | Media | Chat
    | Screen | Hand | Mute | StopVideo | Remove | Lock
)  # fmt: skip

MESSAGE_TYPES: frozenset[str] = frozenset(kind.type for kind in get_args(ClientMessage))
ONE_TO_ONE_TYPES: frozenset[str] = frozenset(
    {"join", "admit", "decline", "end", "leave", "offer", "answer", "candidate", "renegotiate", "media", "chat"}
)
"""The client messages of the 1:1 socket ``/ws``."""
GROUP_TYPES: frozenset[str] = frozenset(
    {"join", "admit", "end", "leave", "offer", "answer", "candidate", "media", "chat"}
    | {"screen", "hand", "mute", "stop_video", "remove", "lock"}
)
"""The client messages of the group socket ``/ws/group``."""

ServerMessage = (
    Welcome | Lobby | Admitted | Declined | PeerJoined | PeerLeft | Relay | MediaState | ChatLine | Ended | Error
    | GroupWelcome | GroupAdmitted | GroupPeerJoined | ScreenState | HandState | Speakers | Tracks | Moderated
    | Locked | Removed | SfuSdp | SfuCandidate
)  # fmt: skip

# -- parsing ---------------------------------------------------------------------------------------------------

_decode = msgspec.json.Decoder(ClientMessage).decode
_encode = msgspec.json.Encoder().encode
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
    # A relayed frame is passed on as sent plus "from"; one that carries its own "from" loses it first.
    if isinstance(msg, RELAYED):
        msg.__dict__["raw"] = _without_from(text) if msg.client_from else text
    return msg


_decode_any = msgspec.json.Decoder().decode


def _without_from(text: str) -> str:
    """A valid frame as sent minus its ``from`` (however escaped, however often), for the relay to pass on; or ""
    (the relay then re-encodes the typed fields only) when a field it ignores holds a number beyond a double."""
    try:
        fields = _decode_any(text)
    except (msgspec.DecodeError, RecursionError):
        return ""
    fields.pop("from", None)
    return _encode(fields).decode()


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


@lru_cache(maxsize=4096)
def _from(sender: str) -> str:
    """What a relayed frame as sent starts with instead of its ``{``."""
    return '{"from":' + _encode(sender).decode() + ","


def ice_init(candidate: IceCandidate | None) -> dict[str, Any] | None:
    """A parsed candidate as an ``RTCIceCandidateInit`` dict (what an SFU takes), or None: end of candidates."""
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
        out["candidate"] = ice_init(inner.candidate)
    return _encode(out).decode()


def serialise(msg: ServerMessage) -> str:
    """A server message -> one JSON text frame (compact, UTF-8).

    A relayed offer, answer, candidate or renegotiate request that was parsed from a frame is passed on as sent
    (less a ``from`` of the client's) with the server's ``from`` put first: the hot relay path then costs a string
    concatenation instead of an encoding. (``parse`` has validated the frame, and JSON readers keep the last of
    duplicate keys: there is none, since ``parse`` took any ``from`` key, however escaped, out of a frame that
    carried one.)
    """
    if type(msg) is Relay:
        raw = msg.message.raw
        if raw:  # one copy: the first "{" of a frame that decoded as an object opens that object
            return raw.replace("{", _from(msg.sender), 1)
        return _relay_anew(msg)
    return _encode(msg).decode()
