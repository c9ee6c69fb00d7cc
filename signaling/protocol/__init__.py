"""The signaling protocol (version 1) as typed messages, with pure ``parse`` and ``serialise``.

``parse(text)`` turns one client frame into a frozen :class:`msgspec.Struct` or raises :class:`ProtocolError`;
``serialise(msg)`` turns a server message into one JSON text frame. The room logic never sees raw JSON. The wire
format is documented in ``docs/signaling.md`` (the 1:1 socket ``/ws``) and ``docs/supervision.md`` (group rooms,
``/ws/group``).

Each message is declared once, on its struct (see :mod:`signaling.protocol.messages`): its ``type``, its fields, its
direction (its base class) and the ``sockets`` that accept or send it. The structs live in
:mod:`signaling.protocol.messages` (both room kinds, and the bases), :mod:`signaling.protocol.consultation` (1:1
only) and :mod:`signaling.protocol.group` (group rooms only); this package re-exports them all, so ``p.Offer`` or
``p.Mute`` is how callers name them. What follows from the declarations is derived here: :data:`CLIENT_MESSAGES`
and :data:`SERVER_MESSAGES`, the one decoder of every client message of both sockets, :data:`MESSAGE_TYPES`, and
the types each socket accepts (:func:`accepted`; :data:`ONE_TO_ONE_TYPES`, :data:`GROUP_TYPES`), which a hub
checks. :data:`ClientMessage` and :data:`ServerMessage` are the same sets spelled out as unions for the type
checker (from each module's own unions); a unit test checks that they equal the derived ones.

The structs *are* the schema: msgspec decodes and validates a frame in one pass (types, sizes, the ``type`` tag,
unknown fields ignored). Only a rejected frame is looked at again, to give the error the protocol's code, a
message a developer can act on, and ``ref``.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Iterator
from typing import TypeVar

import msgspec
from msgspec import UNSET

from signaling.protocol.consultation import *  # noqa: F403 (every message, re-exported)
from signaling.protocol.consultation import ConsultationClientMessage, ConsultationServerMessage, Relay, Renegotiate
from signaling.protocol.group import *  # noqa: F403
from signaling.protocol.group import GroupClientMessage, GroupServerMessage
from signaling.protocol.messages import *  # noqa: F403
from signaling.protocol.messages import (
    CONSULTATION,
    GROUP,
    VERSION,
    Answer,
    Candidate,
    ClientMessageBase,
    IceCandidate,
    IceCandidateInit,
    Message,
    Offer,
    SharedClientMessage,
    SharedServerMessage,
    Socket,
)


class ProtocolError(Exception):
    """An invalid client message. ``code`` is one of the error codes of the protocol; ``ref`` the message type."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


# -- what the declarations say -----------------------------------------------------------------------------------

_M = TypeVar("_M", bound=Message)


def _declared(base: type[_M]) -> Iterator[type[_M]]:
    """The message classes under ``base``: those that declare their ``sockets``, in the order they were defined."""
    for cls in base.__subclasses__():
        if "sockets" in vars(cls):
            yield cls
        yield from _declared(cls)


CLIENT_MESSAGES: tuple[type[ClientMessageBase], ...] = tuple(_declared(ClientMessageBase))
"""Every client -> server message."""
SERVER_MESSAGES: tuple[type[Message], ...] = tuple(
    cls for cls in _declared(Message) if not issubclass(cls, ClientMessageBase)
)
"""Every server -> client message."""

ClientMessage = SharedClientMessage | ConsultationClientMessage | GroupClientMessage
ServerMessage = SharedServerMessage | ConsultationServerMessage | GroupServerMessage


def accepted(socket: Socket) -> frozenset[str]:
    """The types of the client messages the socket ``socket`` (a path) accepts."""
    return frozenset(cls.type for cls in CLIENT_MESSAGES if socket in cls.sockets)


MESSAGE_TYPES: frozenset[str] = frozenset(cls.type for cls in CLIENT_MESSAGES)
ONE_TO_ONE_TYPES: frozenset[str] = accepted(CONSULTATION)
"""The client messages of the 1:1 socket ``/ws``."""
GROUP_TYPES: frozenset[str] = accepted(GROUP)
"""The client messages of the group socket ``/ws/group``."""

# -- parsing ---------------------------------------------------------------------------------------------------

_decoder: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(functools.reduce(operator.or_, CLIENT_MESSAGES))
_decode = _decoder.decode
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


@functools.lru_cache(maxsize=4096)
def _from(sender: str) -> str:
    """What a relayed frame as sent starts with instead of its ``{``."""
    return '{"from":' + _encode(sender).decode() + ","


def ice_init(candidate: IceCandidate | None) -> IceCandidateInit | None:
    """A parsed candidate as an ``RTCIceCandidateInit`` dict (what an SFU takes), or None: end of candidates."""
    if candidate is None:
        return None
    out: IceCandidateInit = {
        "candidate": candidate.candidate,
        "sdpMid": candidate.sdpMid,
        "sdpMLineIndex": candidate.sdpMLineIndex,
    }
    if candidate.usernameFragment is not None:
        out["usernameFragment"] = candidate.usernameFragment
    return out


def _relay_anew(msg: Relay) -> str:
    inner = msg.message
    out: dict[str, object] = {"v": VERSION, "type": inner.type, "from": msg.sender}
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
