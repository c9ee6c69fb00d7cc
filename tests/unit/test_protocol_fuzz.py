"""``protocol.parse`` under generated and mutated frames: it raises nothing but ``ProtocolError``, and its verdict is
the one the reference reading of ``docs/signaling.md`` gives (:mod:`tests.fuzz.oracle`). Relayed messages are
passed on as sent plus ``from``, whatever the sender put in them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from signaling import protocol as p
from tests.fuzz.oracle import Verdict, expected
from tests.fuzz.strategies import Frame, dumps, json_values, mutated_message, text_frame, valid_message

# Pure functions: cheap, so many examples; derandomized so that a run in CI is the run on a laptop.
MANY = settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def verdict_of(text: str) -> Verdict:
    """What ``parse`` says of ``text``, as a verdict; anything but a ProtocolError escapes and fails the test."""
    try:
        msg = p.parse(text)
    except p.ProtocolError as exc:
        assert exc.code in {"invalid_json", "invalid_message", "unsupported_version", "unknown_type"}, exc.code
        assert exc.ref is None or exc.ref in p.MESSAGE_TYPES
        assert isinstance(exc.message, str) and exc.message
        return Verdict(exc.code, exc.ref)
    return Verdict(None, msg.type)


def agrees(text: str) -> None:
    got, wanted = verdict_of(text), expected(text)
    assert wanted.accepts(got), f"parse said {got}, the protocol says {set(wanted.verdicts)}: {text[:300]!r}"


@MANY
@given(text_frame())
@example(Frame('{"v": 1, "type": "chat", "text": "x", "v": 2}', "duplicate v"))
@example(Frame('{"v": 1, "type": "candidate", "to": "a", "candidate": {"candidate": "c", "sdpMLineIndex": true}}', ""))
@example(Frame('{"v": 1, "type": "join", "room": "' + "😀" * 64 + '"}', "64 characters, more bytes"))
@example(Frame('{"v": 10000000000000000000000000000000, "type": "leave"}', "a huge version"))
@example(Frame('{"v": 1, "type": "leave", "x": 1e400}', "a number out of double range, ignored"))
def test_parse_agrees_with_the_protocol(frame: Frame) -> None:
    assert frame.text is not None
    agrees(frame.text)


@MANY
@given(st.text())
def test_parse_of_any_text_raises_only_protocol_errors(text: str) -> None:
    verdict_of(text)  # lone surrogates included: they cannot come over a socket, but parse must not fail on them


@MANY
@given(json_values)
def test_parse_of_any_json_agrees_with_the_protocol(value: Any) -> None:
    agrees(json.dumps(value))


@MANY
@given(st.dictionaries(st.sampled_from(["v", "type", "to", "id", "room", "text", "sdp", "candidate"]), json_values))
def test_parse_of_any_object_with_protocol_keys_agrees_with_the_protocol(value: dict[str, Any]) -> None:
    agrees(json.dumps(value))


@MANY
@given(mutated_message())
def test_parse_of_mutated_messages_agrees_with_the_protocol(msg: dict[str, Any]) -> None:
    agrees(dumps(msg))


@SOME
@given(valid_message(frozenset({"offer", "answer", "candidate", "renegotiate"})), json_values, st.booleans())
def test_a_relayed_message_is_passed_on_as_sent_plus_the_servers_from(
    msg: dict[str, Any], extra: Any, spoof: bool
) -> None:
    sent = {**msg, "later": extra, **({"from": "someone else"} if spoof else {})}
    parsed = p.parse(json.dumps(sent))
    assert isinstance(parsed, p.Offer | p.Answer | p.Candidate | p.Renegotiate)
    relayed = json.loads(p.serialise(p.Relay("sender", parsed)))
    assert relayed == {**{k: v for k, v in sent.items() if k != "from"}, "from": "sender"}


@pytest.mark.parametrize("kind", sorted(p.MESSAGE_TYPES))
def test_every_type_has_valid_examples(kind: str) -> None:
    """The strategies cover every client message (a new struct gets fuzzed without touching the fuzz)."""

    @settings(max_examples=20, deadline=None, derandomize=True)
    @given(valid_message(frozenset({kind})))
    def valid(msg: dict[str, Any]) -> None:
        assert verdict_of(json.dumps(msg)) == Verdict(None, kind)

    valid()
