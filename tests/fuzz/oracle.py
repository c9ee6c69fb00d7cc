"""What the server must answer to a client text frame, read from ``docs/signaling.md`` and written independently of
:func:`signaling.protocol.parse` (Python's ``json`` and a walk over the structs' declared types, not msgspec's
decoder), so that the fuzz compares two readings of the protocol.

The checks come in the documented order: JSON (RFC 8259: no NaN or Infinity, no lone surrogates), an object, ``v``
an integer, ``v`` the supported version, ``type`` a string, a known ``type``, then the fields of that type (unknown
fields ignored). ``ref`` is the type when it is a known one.

Two things the protocol leaves open are answered leniently: a frame with a duplicated key (RFC 8259 leaves its
meaning to the reader) may get any documented error or be read either way, and a frame nested deeper than
:data:`DEEP` may be refused as ``invalid_json`` (the decoder's recursion limit).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import msgspec.inspect as mi

from signaling import protocol as p
from tests.fuzz.strategies import STRUCTS

ERROR_CODES = frozenset(
    {"invalid_json", "invalid_message", "unsupported_version", "unknown_type", "not_in_room", "forbidden"}
    | {"room_not_found", "room_ended", "no_such_peer", "rate_limited", "negotiation_busy"}
)
"""Every documented error code but ``server_error``, which a fuzzed server must never send."""
DEEP = 400
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Verdict:
    """``code`` None: a valid message of type ``ref``; else the error (code, ref) it must get."""

    code: str | None
    ref: str | None

    @property
    def valid(self) -> bool:
        return self.code is None


@dataclass(frozen=True)
class Expected:
    """The acceptable verdicts of a frame; ``any_error``: any documented error is acceptable too."""

    verdicts: frozenset[Verdict]
    any_error: bool = False

    @property
    def one(self) -> Verdict | None:
        """The verdict when there is exactly one and nothing else is acceptable."""
        return next(iter(self.verdicts)) if len(self.verdicts) == 1 and not self.any_error else None

    def accepts(self, verdict: Verdict) -> bool:
        return verdict in self.verdicts or (self.any_error and verdict.code in ERROR_CODES)


class _Duplicate(Exception):
    pass


def expected(text: str) -> Expected:
    """What ``text`` must get, by the reference reading."""
    last = _verdict(text, duplicates="last")
    deep = {Verdict("invalid_json", None)} if _depth(text) >= DEEP else set()
    try:
        _verdict(text, duplicates="refuse")
    except _Duplicate:
        first = _verdict(text, duplicates="first")
        return Expected(frozenset({last, first, *deep}), any_error=True)
    return Expected(frozenset({last, *deep}))


def _verdict(text: str, duplicates: str) -> Verdict:
    try:
        data = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_pairs(duplicates))
    except (ValueError, RecursionError):
        return Verdict("invalid_json", None)
    if _has_lone_surrogate(data):
        return Verdict("invalid_json", None)
    if not isinstance(data, dict):
        return Verdict("invalid_message", None)
    kind = data.get("type")
    ref = kind if isinstance(kind, str) and kind in p.MESSAGE_TYPES else None
    version = data.get("v")
    if type(version) is not int:
        return Verdict("invalid_message", ref)
    if version != p.VERSION:
        return Verdict("unsupported_version", ref)
    if not isinstance(kind, str):
        return Verdict("invalid_message", None)
    if ref is None:
        return Verdict("unknown_type", None)
    if not _fields_ok(data, _fields(kind)):
        return Verdict("invalid_message", ref)
    return Verdict(None, ref)


@functools.cache
def _fields(kind: str) -> list[mi.Field]:
    """The fields a client writes in a message of that type (not ``v``, ``type``, ``from``)."""
    info = mi.type_info(STRUCTS[kind])
    assert isinstance(info, mi.StructType)
    return [f for f in info.fields if f.encode_name not in ("v", "from")]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _pairs(duplicates: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                if duplicates == "refuse":
                    raise _Duplicate(key)
                if duplicates == "first":
                    continue
            out[key] = value
        return out

    return hook


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]  # a walk without recursion: the value may be nested near the interpreter's limit
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _fields_ok(data: dict[str, Any], fields: list[mi.Field]) -> bool:
    for f in fields:
        if f.encode_name not in data:
            if f.required:
                return False
            continue
        if not _value_ok(data[f.encode_name], f.type):
            return False
    return True


def _value_ok(value: Any, kind: mi.Type) -> bool:
    if isinstance(kind, mi.StrType):
        low, high = kind.min_length or 0, kind.max_length
        return isinstance(value, str) and low <= len(value) and (high is None or len(value) <= high)
    if isinstance(kind, mi.IntType):
        low = kind.ge if kind.ge is not None else -(2**64)
        high = kind.le if kind.le is not None else 2**64
        return type(value) is int and low <= value <= high
    if isinstance(kind, mi.BoolType):
        return type(value) is bool
    if isinstance(kind, mi.NoneType):
        return value is None
    if isinstance(kind, mi.LiteralType):
        return any(type(value) is type(v) and value == v for v in kind.values)
    if isinstance(kind, mi.UnionType):
        return any(_value_ok(value, k) for k in kind.types)
    if isinstance(kind, mi.StructType):
        return isinstance(value, dict) and _fields_ok(value, list(kind.fields))
    raise NotImplementedError(f"no check for {kind!r}")


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (outside strings), well-formed or not."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
