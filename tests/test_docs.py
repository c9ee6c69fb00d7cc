"""The documentation says what the code does: every signaling message has an example that the code accepts, every
close code and error code is in the signaling page, the README's settings table has no stale rows, and every
``make`` target the README names exists. Fast and offline: the pages are read as text, the code is imported.

Whether every declared setting is in the README's table is checked by
``tests/unit/test_settings.py::test_every_setting_is_documented`` (not repeated here).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import msgspec
import msgspec.inspect as mi
import pytest

import signaling
from server.settings import SETTINGS
from signaling import protocol as p
from signaling.alerts import Alert

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
SIGNALING_DOC = ROOT / "docs" / "signaling.md"
PROTOCOL_DOCS = (SIGNALING_DOC, ROOT / "docs" / "supervision.md")  # group messages may be documented in either
# Closes every client meets that no CLOSE_* constant may name: aiohttp's for a frame over the size limit, and the
# binary-frame close (named today, CLOSE_UNSUPPORTED, but required whatever it is called).
FRAME_CLOSES = {1009: "aiohttp: a frame over the size limit", 1003: "the read loop: a binary frame"}


# -- the protocol, as the code declares it (the one place to change when the declarations move) ----------------


def client_types() -> frozenset[str]:
    """Every client message ``type``: the tagged structs of ``signaling.protocol.ClientMessage``."""
    return frozenset(kind.type for kind in get_args(p.ClientMessage))


def server_types() -> dict[str, list[Any]]:
    """Every server message ``type``, with the classes that may carry it: the structs of
    ``signaling.protocol.ServerMessage`` (by their tag; a relayed message by the types it relays; the SFU's SDP by
    its ``type`` literal), and the ``/ws/alerts`` alert, which is a dataclass of its own."""
    found: dict[str, list[Any]] = {}
    for kind in get_args(p.ServerMessage):
        for name in _wire_types(mi.type_info(kind)):
            found.setdefault(name, []).append(kind)
    alert_type = next(f.default for f in dataclasses.fields(Alert) if f.name == "type")
    found.setdefault(str(alert_type), []).append(Alert)
    return found


def _wire_types(info: mi.Type) -> set[str]:
    assert isinstance(info, mi.StructType), info
    if isinstance(info.tag, str):
        return {info.tag}
    names: set[str] = set()
    for f in info.fields:
        if f.encode_name == "type" and isinstance(f.type, mi.LiteralType):
            names |= {str(value) for value in f.type.values}
        elif isinstance(f.type, mi.UnionType):  # a message passed on as sent (the relay)
            for member in f.type.types:
                if isinstance(member, mi.StructType) and isinstance(member.tag, str):
                    names.add(member.tag)
    assert names, f"{info.cls.__name__}: no type found on the wire"
    return names


# -- reading the pages -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Example:
    page: str
    text: str  # one JSON document as written in the page
    value: Any

    @property
    def type(self) -> object:
        return self.value.get("type") if isinstance(self.value, dict) else None

    @property
    def from_client(self) -> bool:
        """A client's message: a client type without ``from`` (which the server adds to what it relays)."""
        return self.type in client_types() and "from" not in self.value


def examples(pages: tuple[Path, ...] = PROTOCOL_DOCS) -> list[Example]:
    """Every JSON document in the pages' fenced ```json blocks (one per block, or one per line)."""
    found = []
    for page in pages:
        for block in re.findall(r"^```json\n(.*?)^```", page.read_text(), re.M | re.S):
            for text in _documents(block):
                try:
                    value = json.loads(text)
                except ValueError as exc:
                    pytest.fail(f"{page.name}: not JSON ({exc}): {text[:80]}")
                found.append(Example(page.name, text, value))
    return found


def _documents(block: str) -> Iterator[str]:
    try:
        json.loads(block)
    except ValueError:
        yield from (line for line in block.splitlines() if line.strip())
    else:
        yield block


def section(page: Path, heading: str) -> str:
    """The text of the section ``## heading`` (up to the next heading of the same level)."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", page.read_text(), re.M | re.S)
    assert match, f"{page.name} has no section '## {heading}'"
    return match[1]


# -- (a) every message type, with an example the code accepts ----------------------------------------------------


def test_the_type_lists_come_from_the_code() -> None:
    assert {"join", "offer", "renegotiate", "mute", "lock"} <= client_types()
    assert {"welcome", "offer", "renegotiate", "speakers", "tracks", "alert"} <= set(server_types())


def test_every_client_message_type_has_an_example() -> None:
    shown = {example.type for example in examples() if example.from_client}
    assert sorted(client_types() - shown) == [], "client messages without a JSON example"


def test_every_server_message_type_has_an_example() -> None:
    shown = {example.type for example in examples() if not example.from_client}
    assert sorted(set(server_types()) - shown) == [], "server messages without a JSON example"


def test_every_client_example_parses() -> None:
    for example in examples():
        if example.from_client:
            try:
                msg = p.parse(example.text)
            except p.ProtocolError as exc:
                pytest.fail(f"{example.page}: {exc.code} ({exc.message}): {example.text[:100]}")
            assert msg.type == example.type


def test_every_server_example_is_a_server_message() -> None:
    carriers = server_types()
    for example in examples():
        if example.from_client:
            continue
        assert example.type in carriers, f"{example.page}: not a server message type: {example.text[:100]}"
        problems = [_problem(kind, example.value) for kind in carriers[str(example.type)]]
        assert None in problems, f"{example.page}: {'; '.join(map(str, problems))}: {example.text[:100]}"


def _problem(kind: Any, value: dict[str, Any]) -> str | None:
    """Why ``value`` is not a message of class ``kind`` as the server writes it, or None."""
    if kind is p.Relay:  # the sender's frame as sent, plus "from"
        try:
            msg = p.parse(json.dumps({k: v for k, v in value.items() if k != "from"}))
        except p.ProtocolError as exc:
            return f"relayed: {exc.message}"
        return None if isinstance(msg, p.RELAYED) and isinstance(value.get("from"), str) else "relayed: no from"
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        names = {f.name for f in dataclasses.fields(kind)}
        return None if set(value) == names else f"{kind.__name__}: fields {sorted(names)}"
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        return f"{kind.__name__}: {exc}"
    return None


# -- (b) every close code and error code ---------------------------------------------------------------------------


def signaling_modules() -> Iterator[ModuleType]:
    yield signaling
    for info in pkgutil.walk_packages(signaling.__path__, "signaling."):
        yield importlib.import_module(info.name)


def close_codes() -> dict[int, str]:
    """Every ``CLOSE_*`` int constant of the modules under ``signaling``, and the closes aiohttp makes for us."""
    codes: dict[int, str] = {}
    for module in signaling_modules():
        for name, value in vars(module).items():
            if name.startswith("CLOSE_") and type(value) is int:
                codes.setdefault(value, f"{module.__name__}.{name}")
    return {**FRAME_CLOSES, **codes}


def test_every_close_code_is_in_the_table() -> None:
    codes = close_codes()
    assert {1000, 1001, 1008, 4000, 4001, 4003} <= set(codes)  # the walk found the modules
    table = section(SIGNALING_DOC, "Close codes")
    documented = {int(code) for row in re.findall(r"^\|([^|]*)\|", table, re.M) for code in re.findall(r"\d{4}", row)}
    missing = {code: what for code, what in codes.items() if code not in documented}
    assert missing == {}, "close codes missing from the table in docs/signaling.md"


_ERROR_CALLS = {"Error": 0, "ProtocolError": 0, "send_error": 1, "_error": 1}  # where the code is in the arguments


def error_codes() -> dict[str, str]:
    """Every error code the signaling modules send: the literal code given to ``Error``, ``ProtocolError`` or an
    error-sending helper, and the keys of the join refusals (``_GRANT_ERRORS``)."""
    codes: dict[str, str] = {}
    for module in signaling_modules():
        source = Path(module.__file__ or "").read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                where = _ERROR_CALLS.get(name)
                if where is not None and len(node.args) > where:
                    arg = node.args[where]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        codes.setdefault(arg.value, module.__name__)
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_GRANT_ERRORS" for t in node.targets):
                assert isinstance(node.value, ast.Dict)
                for key in node.value.keys:
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        codes.setdefault(key.value, module.__name__)
    return codes


def test_every_error_code_is_in_the_table() -> None:
    codes = error_codes()
    assert {"invalid_json", "unknown_type", "rate_limited", "room_not_found", "negotiation_busy"} <= set(codes)
    table = section(SIGNALING_DOC, "Errors")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    missing = {code: where for code, where in codes.items() if code not in documented}
    assert missing == {}, "error codes missing from the table in docs/signaling.md"


# -- (c) the README's settings table ------------------------------------------------------------------------------


def test_the_readme_settings_table_has_no_stale_rows() -> None:
    declared = {s.name: s.env for s in SETTINGS}
    rows = re.findall(r"^\| `([a-z_]+)` \| `([A-Z_]+)` \|", section(README, "Configuration"), re.M)
    assert rows, "no settings table in README.md"
    stale = [(name, env) for name, env in rows if declared.get(name) != env]
    assert stale == [], "README.md lists settings that are not declared (server/settings.py) as such"
    assert len(rows) == len({name for name, _ in rows}), "a setting is listed twice in README.md"


# -- (d) the README's make targets --------------------------------------------------------------------------------


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", MAKEFILE.read_text(), re.M))


def readme_make_commands() -> set[str]:
    """The targets of every ``make X`` written as code in the README (inline code or a fenced block)."""
    text = README.read_text()
    code = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S) + re.findall(r"`([^`\n]+)`", text)
    return {target for snippet in code for target in re.findall(r"(?<![\w-])make ([a-z][\w-]*)", snippet)}


def test_every_make_target_the_readme_names_exists() -> None:
    named = readme_make_commands()
    assert {"run", "test", "lint"} <= named
    assert sorted(named - make_targets()) == [], "README.md names make targets the Makefile does not have"


# -- links between the pages ----------------------------------------------------------------------------------------


def test_every_docs_page_named_exists_and_the_readme_links_the_architecture() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for name in re.findall(r"docs/[\w-]+\.md", page.read_text()):
            assert (ROOT / name).is_file(), f"{page.name} names {name}, which does not exist"
    assert "docs/architecture.md" in README.read_text()
