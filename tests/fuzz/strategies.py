"""Hypothesis strategies for client frames: valid messages of every type, built from the typed structures of
:mod:`signaling.protocol` (``msgspec.inspect`` gives each field's type and bounds), messages mutated from them, and
frames that are not messages at all (not JSON, not an object, binary).

Identifiers (``room``, ``id``, ``to``) are drawn partly from placeholders (:data:`PEER`, :data:`SELF`, ...) that a
socket driver replaces with the real ids of the room it fuzzes, so that relays and moderation reach someone.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import msgspec.inspect as mi
from hypothesis import strategies as st

from signaling import protocol as p

MAX_FRAME = 64 * 1024

# Placeholders for ids, replaced by the socket drivers (and left as they are, harmless ids, at parse level).
PEER = "@peer"  # someone else in the call (the other person; in a group room, a member)
SELF = "@self"  # the sender
ROOM = "@room"  # the room the sender is in
PLACEHOLDERS = (PEER, SELF, ROOM, p.SFU)
ID_FIELDS = frozenset({"room", "id", "to"})

STRUCTS: dict[str, type[p.ClientMessageBase]] = {kind.type: kind for kind in p.ClientMessage.__args__}


class Frame:
    """One frame a client sends: text (``data`` a str) or binary (bytes). ``how`` says how it was made.
    (Not a dataclass: hypothesis prints those field by field, and a frame may be 100 kB.)"""

    __slots__ = ("data", "how")

    def __init__(self, data: str | bytes, how: str) -> None:
        self.data, self.how = data, how

    @property
    def text(self) -> str | None:
        return self.data if isinstance(self.data, str) else None

    def __repr__(self) -> str:
        shown = self.data[:200] if len(self.data) <= 200 else f"{self.data[:200]!r}... ({len(self.data)} long)"
        return f"Frame({shown!r}, {self.how!r})"


# -- values -----------------------------------------------------------------------------------------------------

# Any Unicode scalar value (no lone surrogates: those cannot be sent in a text frame).
unicode_text = st.text(st.characters(codec="utf-8"), max_size=80)
nasty_text = st.sampled_from(
    ["", " ", "\u0000", "\u202e\u202dRTL", "😀" * 3, "e\u0301", "\ufeff", "\r\n", "'\"\\", "<script>", "null", "1"]
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    json_scalars | unicode_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(unicode_text, inner, max_size=4),
    max_leaves=12,
)


def _strings(field: str, kind: mi.StrType) -> st.SearchStrategy[str]:
    low, high = kind.min_length or 0, kind.max_length if kind.max_length is not None else 200
    plain = st.text(st.characters(codec="utf-8"), min_size=low, max_size=min(high, 200))
    edges = st.sampled_from(sorted({max(low, 1), high})).map(lambda n: "x" * n)  # the bounds themselves
    if field in ID_FIELDS:
        return st.sampled_from(PLACEHOLDERS) | plain | edges
    return plain | edges


def for_type(field: str, kind: mi.Type) -> st.SearchStrategy[Any]:
    """Valid values of a field of that msgspec type."""
    if isinstance(kind, mi.StrType):
        return _strings(field, kind)
    if isinstance(kind, mi.IntType):
        return st.integers(min_value=kind.ge, max_value=kind.le)
    if isinstance(kind, mi.BoolType):
        return st.booleans()
    if isinstance(kind, mi.NoneType):
        return st.none()
    if isinstance(kind, mi.LiteralType):
        return st.sampled_from(kind.values)
    if isinstance(kind, mi.UnionType):
        return st.one_of(*(for_type(field, k) for k in kind.types))
    if isinstance(kind, mi.StructType):
        return struct_fields(kind)
    raise NotImplementedError(f"no strategy for {kind!r}")


def message_fields(kind: type[p.ClientMessageBase]) -> list[mi.Field]:
    """The fields of a client message a client writes (not ``v``, ``type``, nor a spoofed ``from``)."""
    info = mi.type_info(kind)
    assert isinstance(info, mi.StructType)
    return [f for f in info.fields if f.encode_name not in ("v", "from")]


def struct_fields(info: mi.StructType, fields: list[mi.Field] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    fields = list(info.fields) if fields is None else fields
    required = {f.encode_name: for_type(f.encode_name, f.type) for f in fields if f.required}
    optional = {f.encode_name: for_type(f.encode_name, f.type) for f in fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


@functools.cache  # built once per set of types: msgspec.inspect is slow, and every frame draws from it
def valid_message(types: frozenset[str] = p.MESSAGE_TYPES) -> st.SearchStrategy[dict[str, Any]]:
    """A valid client message as a dict, of one of ``types``."""

    def of(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        struct = STRUCTS[kind]
        info = mi.type_info(struct)
        assert isinstance(info, mi.StructType)
        body = struct_fields(info, message_fields(struct))
        return body.map(lambda fields: {"v": p.VERSION, "type": kind, **fields})

    return st.one_of(*(of(kind) for kind in sorted(types)))


# -- mutations --------------------------------------------------------------------------------------------------


def wrong_value(value: Any) -> st.SearchStrategy[Any]:
    """A JSON value of another type than ``value``'s."""
    return json_values.filter(lambda other: type(other) is not type(value) or other != value)


@st.composite
def mutated_message(draw: st.DrawFn, types: frozenset[str] = p.MESSAGE_TYPES) -> dict[str, Any]:
    """A valid message with one thing (or a few) changed: most are invalid, some stay valid (extra fields)."""
    msg = dict(draw(valid_message(types)))
    for _ in range(draw(st.integers(1, 2))):
        keys = sorted(msg)
        how = draw(st.sampled_from(["drop", "retype", "extra", "huge", "deep", "version", "type", "unicode", "from"]))
        key = draw(st.sampled_from(keys)) if keys else "v"
        if how == "drop" and keys:
            del msg[key]
        elif how == "retype":
            msg[key] = draw(wrong_value(msg.get(key)))
        elif how == "extra":
            msg[draw(unicode_text | st.sampled_from(["to", "id", "room", "text", "sdp", "candidate"]))] = draw(
                json_values
            )
        elif how == "huge":
            msg[key] = "x" * draw(st.sampled_from([64, 65, 1024, 1025, 2000, 2001, p.MAX_SDP, p.MAX_SDP + 1, 50_000]))
        elif how == "deep":
            depth = draw(st.sampled_from([2, 10, 64, 200, 900, 5000]))
            msg[draw(st.sampled_from([key, "pad"]))] = (
                json.loads("[" * depth + "]" * depth) if depth < 500 else Deep(depth)
            )
        elif how == "version":
            msg["v"] = draw(st.sampled_from([0, 2, -1, "1", 1.0, True, None, 10**30, [1], {"v": 1}]))
        elif how == "type":
            msg["type"] = draw(unicode_text | st.sampled_from(sorted(p.MESSAGE_TYPES)) | json_values)
        elif how == "unicode":
            msg[key] = draw(unicode_text | nasty_text)
        else:
            msg["from"] = draw(st.sampled_from(PLACEHOLDERS) | json_values)
    return msg


class Deep:
    """A nesting too deep to build as Python objects: written out as text by :func:`dumps`."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


def dumps(msg: Any, *, ascii_only: bool = False) -> str:
    """JSON text of a message that may hold :class:`Deep` values."""
    marks: dict[str, Deep] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, Deep):
            marks[token := f"@@deep{len(marks)}@@"] = value
            return token
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        return value

    text = json.dumps(mark(msg), ensure_ascii=ascii_only)
    for token, deep in marks.items():
        text = text.replace(json.dumps(token), "[" * deep.depth + "]" * deep.depth)
    return text


# -- frames -----------------------------------------------------------------------------------------------------

not_json = st.one_of(
    unicode_text,
    st.sampled_from(
        ["", "{", "}", "{not json", '{"v": 1,}', "nul", "[1,]", '{"v": NaN}', '{"v": 1, "x": Infinity}', "'{}'"]
    ),
    st.sampled_from(['{"v":1,"type":"chat","text":"\\ud800"}', '{"v":1,"type":"chat","text":"x","\\udfff":1}']),
    st.sampled_from(['{"v":1,"type":"chat","text":"a\tb"}', '\ufeff{"v":1,"type":"leave"}', '{"v":1} {"v":1}']),
)
not_object = json_values.filter(lambda value: not isinstance(value, dict)).map(json.dumps)


@st.composite
def text_frame(draw: st.DrawFn, types: frozenset[str] = p.MESSAGE_TYPES) -> Frame:
    """A text frame under the size limit (or, rarely, over it)."""
    choice = draw(st.sampled_from(["valid"] * 4 + ["mutated"] * 4 + ["not_json", "not_object", "truncated", "dup"]))
    if choice in ("valid", "mutated", "truncated", "dup"):
        msg = draw(valid_message(types) if choice == "valid" else mutated_message(types))
        text = dumps(msg, ascii_only=draw(st.booleans()))
        if choice == "truncated":
            text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
        elif choice == "dup" and msg:
            key = draw(st.sampled_from(sorted(msg)))
            text = text[:-1] + "," + json.dumps(key) + ":" + json.dumps(draw(json_values)) + "}"
        return Frame(text, choice)
    if choice == "not_json":
        return Frame(draw(not_json), choice)
    return Frame(draw(not_object), choice)


def oversize(size: int) -> Frame:
    """A chat frame of exactly ``size`` bytes."""
    head, tail = '{"v":1,"type":"chat","text":"', '"}'
    return Frame(head + "x" * (size - len(head) - len(tail)) + tail, f"size {size}")


def frames(types: frozenset[str] = p.MESSAGE_TYPES, *, closing: bool = True) -> st.SearchStrategy[Frame]:
    """Any frame; with ``closing``, rarely (1 in 20 each) a binary one or one at or over the 64 KiB limit."""
    if not closing:
        return text_frame(types)
    binary = st.binary(max_size=64).map(lambda data: Frame(data, "binary"))
    big = st.sampled_from([MAX_FRAME - 1, MAX_FRAME, MAX_FRAME + 1, 100_000]).map(oversize)
    # sampled_from, not integers(): hypothesis draws small integers far more often than 1 in 20
    kinds = st.sampled_from(["text"] * 18 + ["binary", "big"])
    return kinds.flatmap(lambda kind: binary if kind == "binary" else big if kind == "big" else text_frame(types))
