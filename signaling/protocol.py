"""The signaling protocol (version 1) as typed messages, with pure ``parse`` and ``serialise``.

``parse(text)`` turns one client frame into a frozen dataclass or raises :class:`ProtocolError`; ``serialise(msg)``
turns a server message into one JSON text frame. The room logic never sees raw JSON. The wire format is
documented in ``docs/signaling.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

VERSION = 1
MAX_SDP = 32 * 1024
MAX_CHAT = 2000
MAX_ID = 64
MAX_CANDIDATE = 1024

Role = Literal["operator", "citizen"]
State = Literal["waiting", "in_call"]


class ProtocolError(Exception):
    """An invalid client message. ``code`` is one of the error codes of the protocol; ``ref`` the message type."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


# -- client -> server ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IceCandidate:
    """An ``RTCIceCandidateInit`` (W3C names)."""

    candidate: str
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None
    usernameFragment: str | None = None


@dataclass(frozen=True, slots=True)
class Join:
    room: str
    type: Literal["join"] = "join"


@dataclass(frozen=True, slots=True)
class Admit:
    id: str
    type: Literal["admit"] = "admit"


@dataclass(frozen=True, slots=True)
class Decline:
    id: str
    type: Literal["decline"] = "decline"


@dataclass(frozen=True, slots=True)
class End:
    type: Literal["end"] = "end"


@dataclass(frozen=True, slots=True)
class Leave:
    type: Literal["leave"] = "leave"


@dataclass(frozen=True, slots=True)
class Offer:
    to: str
    sdp: str
    type: Literal["offer"] = "offer"
    raw: str = field(default="", compare=False, repr=False)  # the validated frame, for a cheap relay


@dataclass(frozen=True, slots=True)
class Answer:
    to: str
    sdp: str
    type: Literal["answer"] = "answer"
    raw: str = field(default="", compare=False, repr=False)  # the validated frame, for a cheap relay


@dataclass(frozen=True, slots=True)
class Candidate:
    to: str
    candidate: IceCandidate | None
    type: Literal["candidate"] = "candidate"
    raw: str = field(default="", compare=False, repr=False)  # the validated frame, for a cheap relay


@dataclass(frozen=True, slots=True)
class Renegotiate:
    to: str
    type: Literal["renegotiate"] = "renegotiate"
    raw: str = field(default="", compare=False, repr=False)  # the validated frame, for a cheap relay


@dataclass(frozen=True, slots=True)
class Media:
    audio: bool
    video: bool
    type: Literal["media"] = "media"


@dataclass(frozen=True, slots=True)
class Chat:
    text: str
    type: Literal["chat"] = "chat"


ClientMessage = Join | Admit | Decline | End | Leave | Offer | Answer | Candidate | Renegotiate | Media | Chat
Relayed = Offer | Answer | Candidate | Renegotiate

# -- server -> client ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Peer:
    """Someone in the call, as shown to the others."""

    id: str
    role: Role
    name: str
    audio: bool = True
    video: bool = True


@dataclass(frozen=True, slots=True)
class Waiting:
    """Someone in the lobby; ``since`` is an ISO 8601 UTC time."""

    id: str
    name: str
    since: str


@dataclass(frozen=True, slots=True)
class Welcome:
    id: str
    role: Role
    room: str
    state: State
    peers: tuple[Peer, ...]
    ice_servers: tuple[Mapping[str, Any], ...] = ()
    type: Literal["welcome"] = "welcome"


@dataclass(frozen=True, slots=True)
class Lobby:
    waiting: tuple[Waiting, ...]
    type: Literal["lobby"] = "lobby"


@dataclass(frozen=True, slots=True)
class Admitted:
    peers: tuple[Peer, ...]
    type: Literal["admitted"] = "admitted"


@dataclass(frozen=True, slots=True)
class Declined:
    type: Literal["declined"] = "declined"


@dataclass(frozen=True, slots=True)
class PeerJoined:
    id: str
    role: Role
    name: str
    type: Literal["peer_joined"] = "peer_joined"


@dataclass(frozen=True, slots=True)
class PeerLeft:
    id: str
    type: Literal["peer_left"] = "peer_left"


@dataclass(frozen=True, slots=True)
class Relay:
    """An offer, answer, candidate or renegotiate request passed on, with ``from`` set by the server."""

    sender: str
    message: Relayed


@dataclass(frozen=True, slots=True)
class MediaState:
    sender: str
    audio: bool
    video: bool
    type: Literal["media"] = "media"


@dataclass(frozen=True, slots=True)
class ChatLine:
    sender: str
    name: str
    text: str
    at: str
    type: Literal["chat"] = "chat"


@dataclass(frozen=True, slots=True)
class Ended:
    reason: str = "operator_ended"
    type: Literal["ended"] = "ended"


@dataclass(frozen=True, slots=True)
class Error:
    code: str
    message: str
    ref: str | None = None
    type: Literal["error"] = "error"


ServerMessage = (
    Welcome | Lobby | Admitted | Declined | PeerJoined | PeerLeft | Relay | MediaState | ChatLine | Ended | Error
)

# -- parsing ---------------------------------------------------------------------------------------------------


def _str(data: Mapping[str, Any], field: str, ref: str, *, max_len: int = MAX_ID, min_len: int = 1) -> str:
    value = data.get(field)
    if not isinstance(value, str):
        raise ProtocolError("invalid_message", f"field '{field}' must be a string", ref)
    if not min_len <= len(value) <= max_len:
        raise ProtocolError("invalid_message", f"field '{field}' must be {min_len}-{max_len} characters", ref)
    return value


def _bool(data: Mapping[str, Any], field: str, ref: str) -> bool:
    value = data.get(field)
    if not isinstance(value, bool):
        raise ProtocolError("invalid_message", f"field '{field}' must be a boolean", ref)
    return value


def _optional_str(data: Mapping[str, Any], field: str, ref: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_ID:
        raise ProtocolError("invalid_message", f"field 'candidate.{field}' must be a short string or null", ref)
    return value


def _candidate(data: Mapping[str, Any], raw: str) -> Candidate:
    to = _str(data, "to", "candidate")
    init = data.get("candidate")
    if init is None:
        return Candidate(to, None, raw=raw)
    if type(init) is not dict:
        raise ProtocolError("invalid_message", "field 'candidate' must be an object or null", "candidate")
    text = init.get("candidate")
    if type(text) is not str or len(text) > MAX_CANDIDATE:
        raise ProtocolError("invalid_message", "field 'candidate.candidate' must be a string", "candidate")
    index = init.get("sdpMLineIndex")
    if index is not None and (type(index) is not int or not 0 <= index < 1024):
        message = "field 'candidate.sdpMLineIndex' must be an integer or null"
        raise ProtocolError("invalid_message", message, "candidate")
    mid = _optional_str(init, "sdpMid", "candidate")
    fragment = _optional_str(init, "usernameFragment", "candidate")
    return Candidate(to, IceCandidate(text, mid, index, fragment), raw=raw)


# Each parser gets the decoded object and, for the relayed types, the frame itself (see ``serialise``).
_PARSERS: dict[str, Callable[[Mapping[str, Any], str], ClientMessage]] = {
    "join": lambda d, raw: Join(_str(d, "room", "join")),
    "admit": lambda d, raw: Admit(_str(d, "id", "admit")),
    "decline": lambda d, raw: Decline(_str(d, "id", "decline")),
    "end": lambda d, raw: End(),
    "leave": lambda d, raw: Leave(),
    "offer": lambda d, raw: Offer(_str(d, "to", "offer"), _str(d, "sdp", "offer", max_len=MAX_SDP), raw=raw),
    "answer": lambda d, raw: Answer(_str(d, "to", "answer"), _str(d, "sdp", "answer", max_len=MAX_SDP), raw=raw),
    "candidate": _candidate,
    "renegotiate": lambda d, raw: Renegotiate(_str(d, "to", "renegotiate"), raw=raw),
    "media": lambda d, raw: Media(_bool(d, "audio", "media"), _bool(d, "video", "media")),
    "chat": lambda d, raw: Chat(_str(d, "text", "chat", max_len=MAX_CHAT)),
}

MESSAGE_TYPES = frozenset(_PARSERS)


def parse(text: str) -> ClientMessage:
    """One client text frame -> a typed message. Raises :class:`ProtocolError` on anything invalid."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "the message is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "the message must be a JSON object")
    kind = data.get("type")
    ref = kind if isinstance(kind, str) and kind in _PARSERS else None
    version = data.get("v")
    if type(version) is not int:
        raise ProtocolError("invalid_message", "field 'v' must be an integer", ref)
    if version != VERSION:
        raise ProtocolError("unsupported_version", f"protocol version {VERSION} only", ref)
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "field 'type' must be a string")
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ProtocolError("unknown_type", "unknown message type")
    # A relayed frame is passed on as sent plus "from"; one that carries its own "from" is re-encoded instead.
    return parser(data, "" if "from" in data else text)


# -- serialising -----------------------------------------------------------------------------------------------


def _peer(peer: Peer) -> dict[str, Any]:
    return {"id": peer.id, "role": peer.role, "name": peer.name, "audio": peer.audio, "video": peer.video}


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


def _relay(msg: Relay) -> dict[str, Any]:
    inner = msg.message
    out: dict[str, Any] = {"v": VERSION, "type": inner.type, "from": msg.sender}
    if isinstance(inner, Offer | Answer):
        out["sdp"] = inner.sdp
    elif isinstance(inner, Candidate):
        out["candidate"] = _ice(inner.candidate)
    return out


def to_wire(msg: ServerMessage) -> dict[str, Any]:
    """A server message as the JSON object sent on the wire."""
    if isinstance(msg, Relay):
        return _relay(msg)
    out: dict[str, Any] = {"v": VERSION, "type": msg.type}
    if isinstance(msg, Welcome):
        out.update(id=msg.id, role=msg.role, room=msg.room, state=msg.state)
        out.update(peers=[_peer(p) for p in msg.peers], ice_servers=[dict(s) for s in msg.ice_servers])
    elif isinstance(msg, Lobby):
        out["waiting"] = [{"id": w.id, "name": w.name, "since": w.since} for w in msg.waiting]
    elif isinstance(msg, Admitted):
        out["peers"] = [_peer(p) for p in msg.peers]
    elif isinstance(msg, PeerJoined):
        out.update(id=msg.id, role=msg.role, name=msg.name)
    elif isinstance(msg, PeerLeft):
        out["id"] = msg.id
    elif isinstance(msg, MediaState):
        out.update({"from": msg.sender, "audio": msg.audio, "video": msg.video})
    elif isinstance(msg, ChatLine):
        out.update({"from": msg.sender, "name": msg.name, "text": msg.text, "at": msg.at})
    elif isinstance(msg, Ended):
        out["reason"] = msg.reason
    elif isinstance(msg, Error):
        out.update(code=msg.code, message=msg.message, ref=msg.ref)
    return out


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


_quote = lru_cache(maxsize=4096)(_dumps)


def serialise(msg: ServerMessage) -> str:
    """A server message -> one JSON text frame (compact, UTF-8 friendly).

    A relayed offer, answer, candidate or renegotiate request that was parsed from a frame without a ``from`` is
    passed on as sent with ``from`` put first: the hot relay path then costs a string concatenation instead of an
    encoding. (``parse`` has validated the frame; JSON readers keep the last of duplicate keys, and there is none.)
    """
    if type(msg) is Relay and msg.message.raw:
        raw = msg.message.raw
        return '{"from":' + _quote(msg.sender) + "," + raw[raw.index("{") + 1 :]
    return _dumps(to_wire(msg))
