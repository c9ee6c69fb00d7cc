"""The typed protocol: every client message parses, every invalid input raises ProtocolError with the right code."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from signaling import protocol as p


def frame(**fields: Any) -> str:
    return json.dumps({"v": 1, **fields})


def cand(candidate: Any) -> str:
    return frame(type="candidate", to="o1", candidate=candidate)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "join", "room": "r1"}, p.Join("r1")),
        ({"type": "admit", "id": "c1"}, p.Admit("c1")),
        ({"type": "decline", "id": "c1"}, p.Decline("c1")),
        ({"type": "end"}, p.End()),
        ({"type": "leave"}, p.Leave()),
        ({"type": "offer", "to": "o1", "sdp": "v=0"}, p.Offer("o1", "v=0")),
        ({"type": "answer", "to": "o1", "sdp": "v=0"}, p.Answer("o1", "v=0")),
        ({"type": "candidate", "to": "o1", "candidate": None}, p.Candidate("o1", None)),
        (
            {"type": "candidate", "to": "o1", "candidate": {"candidate": "candidate:1", "sdpMid": "0"}},
            p.Candidate("o1", p.IceCandidate("candidate:1", "0", None)),
        ),
        ({"type": "renegotiate", "to": "o1"}, p.Renegotiate("o1")),
        ({"type": "media", "audio": False, "video": True}, p.Media(audio=False, video=True)),
        ({"type": "chat", "text": "ciao"}, p.Chat("ciao")),
        ({"type": "join", "room": "r1", "later": {"field": 1}}, p.Join("r1")),
    ],
)
def test_parse_valid(fields: dict[str, Any], expected: p.ClientMessage) -> None:
    assert p.parse(frame(**fields)) == sent(expected)


def sent(msg: p.ClientMessage) -> p.ClientMessage:
    """``msg`` as parsed from the wire, where it records the version the client sent."""
    return msgspec.structs.replace(msg, v=1)


@pytest.mark.parametrize(
    ("text", "code", "ref"),
    [
        ("not json", "invalid_json", None),
        ("[1, 2]", "invalid_message", None),
        ('"join"', "invalid_message", None),
        ('{"type": "join", "room": "r"}', "invalid_message", "join"),
        ('{"v": "1", "type": "join", "room": "r"}', "invalid_message", "join"),
        ('{"v": true, "type": "join", "room": "r"}', "invalid_message", "join"),
        ('{"v": 2, "type": "join", "room": "r"}', "unsupported_version", "join"),
        ('{"v": 1}', "invalid_message", None),
        ('{"v": 1, "type": 5}', "invalid_message", None),
        ('{"v": 1, "type": "dance"}', "unknown_type", None),
        ('{"v": 1, "type": "join"}', "invalid_message", "join"),
        ('{"v": 1, "type": "join", "room": 5}', "invalid_message", "join"),
        ('{"v": 1, "type": "join", "room": ""}', "invalid_message", "join"),
        (frame(type="join", room="x" * 65), "invalid_message", "join"),
        (frame(type="admit"), "invalid_message", "admit"),
        (frame(type="offer", to="o1"), "invalid_message", "offer"),
        (frame(type="offer", to="o1", sdp="x" * (32 * 1024 + 1)), "invalid_message", "offer"),
        (frame(type="answer", to=["o1"], sdp="v=0"), "invalid_message", "answer"),
        (cand("c"), "invalid_message", "candidate"),
        (cand({"candidate": 1}), "invalid_message", "candidate"),
        (
            cand({"candidate": "c", "sdpMLineIndex": "0"}),
            "invalid_message",
            "candidate",
        ),
        (
            cand({"candidate": "c", "sdpMLineIndex": True}),
            "invalid_message",
            "candidate",
        ),
        (cand({"candidate": "c", "sdpMid": 0}), "invalid_message", "candidate"),
        (frame(type="media", audio=1, video=True), "invalid_message", "media"),
        (frame(type="media", audio=True), "invalid_message", "media"),
        (frame(type="chat", text=""), "invalid_message", "chat"),
        (frame(type="chat", text="x" * 2001), "invalid_message", "chat"),
        (frame(type="chat", text=None), "invalid_message", "chat"),
        ("[" * 100000 + "]" * 100000, "invalid_json", None),
        ('{"v": 1, "type": "join", "room": "r", "x": ' + "[" * 100000 + "]" * 100000 + "}", "invalid_json", None),
        ('{"v": 1, "type": "join", "room": "r", "x": NaN}', "invalid_json", None),  # not JSON (RFC 8259)
        ('{"v": 1, "type": "join", "room": "\\ud800"}', "invalid_json", None),  # a lone surrogate is not text
        ('{"v": 2, "type": "dance"}', "unsupported_version", None),
        ('{"type": "dance"}', "invalid_message", None),
    ],
)
def test_parse_invalid(text: str, code: str, ref: str | None) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse(text)
    assert (info.value.code, info.value.ref) == (code, ref)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"v": 1, "type": "join", "room": 5}', "field 'room' must be a string"),
        ('{"v": 1, "type": "join"}', "field 'room' is required"),
        ('{"type": "join", "room": "r"}', "field 'v' (the protocol version) is required"),
        ('{"v": "1", "type": "join", "room": "r"}', "field 'v' must be an integer"),
        (frame(type="join", room="x" * 65), "field 'room' must be at most 64 characters"),
        (frame(type="chat", text=""), "field 'text' must not be empty"),
        (cand("c"), "field 'candidate' must be an object or null"),
        (cand({"sdpMid": "0"}), "field 'candidate.candidate' is required"),
        (cand({"candidate": "c", "sdpMLineIndex": True}), "field 'candidate.sdpMLineIndex' must be an integer or null"),
        (
            cand({"candidate": "c", "sdpMLineIndex": 1024}),
            "field 'candidate.sdpMLineIndex' must be an integer at most 1023",
        ),
        (frame(type="media", audio=1, video=True), "field 'audio' must be a boolean"),
    ],
)
def test_errors_name_the_field_in_plain_words(text: str, message: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse(text)
    assert info.value.message == message


def test_chat_limits_are_inclusive() -> None:
    assert p.parse(frame(type="chat", text="x" * 2000)) == sent(p.Chat("x" * 2000))
    assert p.parse(frame(type="chat", text="x")) == sent(p.Chat("x"))
    assert p.parse(frame(type="chat", text="è" * 2000)) == sent(p.Chat("è" * 2000))  # characters, not bytes


def test_sdp_limit_is_inclusive() -> None:
    sdp = "x" * (32 * 1024)
    assert p.parse(frame(type="offer", to="o1", sdp=sdp)) == sent(p.Offer("o1", sdp))


def wire(msg: p.ServerMessage) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(p.serialise(msg))
    return decoded


def test_serialise_welcome_and_lobby() -> None:
    peer = p.Peer("o1", "operator", "Dott.ssa Rossi", audio=False)
    welcome = p.Welcome("c1", "citizen", "R", "waiting", (peer,), ({"urls": "stun:x"},))
    assert wire(welcome) == {
        "v": 1,
        "type": "welcome",
        "id": "c1",
        "role": "citizen",
        "room": "R",
        "state": "waiting",
        "peers": [{"id": "o1", "role": "operator", "name": "Dott.ssa Rossi", "audio": False, "video": True}],
        "ice_servers": [{"urls": "stun:x"}],
    }
    lobby = p.Lobby((p.Waiting("c1", "Maria", "2026-11-27T10:00:00Z"),))
    assert wire(lobby) == {
        "v": 1,
        "type": "lobby",
        "waiting": [{"id": "c1", "name": "Maria", "since": "2026-11-27T10:00:00Z"}],
    }


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (p.Relay("o1", p.Offer("c1", "v=0")), {"type": "offer", "from": "o1", "sdp": "v=0"}),
        (p.Relay("c1", p.Answer("o1", "v=0")), {"type": "answer", "from": "c1", "sdp": "v=0"}),
        (p.Relay("c1", p.Candidate("o1", None)), {"type": "candidate", "from": "c1", "candidate": None}),
        (
            p.Relay("c1", p.Candidate("o1", p.IceCandidate("candidate:1", "0", 0, "uf"))),
            {
                "type": "candidate",
                "from": "c1",
                "candidate": {"candidate": "candidate:1", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "uf"},
            },
        ),
        (p.Relay("c1", p.Renegotiate("o1")), {"type": "renegotiate", "from": "c1"}),
        (p.MediaState("c1", audio=True, video=False), {"type": "media", "from": "c1", "audio": True, "video": False}),
        (
            p.ChatLine("c1", "Maria", "ciao è", "2026-11-27T10:00:00Z"),
            {"type": "chat", "from": "c1", "name": "Maria", "text": "ciao è", "at": "2026-11-27T10:00:00Z"},
        ),
        (p.Admitted(()), {"type": "admitted", "peers": []}),
        (p.Declined(), {"type": "declined"}),
        (
            p.PeerJoined("c1", "citizen", "Maria"),
            {"type": "peer_joined", "id": "c1", "role": "citizen", "name": "Maria"},
        ),
        (p.PeerLeft("c1"), {"type": "peer_left", "id": "c1"}),
        (p.Ended(), {"type": "ended", "reason": "operator_ended"}),
        (p.Error("forbidden", "no", "admit"), {"type": "error", "code": "forbidden", "message": "no", "ref": "admit"}),
    ],
)
def test_serialise(msg: p.ServerMessage, expected: dict[str, Any]) -> None:
    assert wire(msg) == {"v": 1, **expected}


def test_relayed_candidate_round_trips() -> None:
    """What the server relays can be parsed back by a client written from the same spec."""
    sent = p.parse(cand({"candidate": "c", "sdpMid": "0", "sdpMLineIndex": 0}))
    assert isinstance(sent, p.Candidate)
    relayed = wire(p.Relay("c1", sent))
    assert relayed["candidate"] == {"candidate": "c", "sdpMid": "0", "sdpMLineIndex": 0}


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "offer", "to": "o1", "sdp": "v=0\r\nè"},
        {"type": "answer", "to": "o1", "sdp": "v=0", "later": [1, 2]},
        {"type": "candidate", "to": "o1", "candidate": {"candidate": "c", "sdpMid": "0", "sdpMLineIndex": 0}},
        {"type": "candidate", "to": "o1", "candidate": None},
        {"type": "renegotiate", "to": "o1"},
    ],
)
def test_relay_passes_the_frame_on_as_sent_plus_from(fields: dict[str, Any]) -> None:
    text = "  " + json.dumps({"v": 1, **fields}, ensure_ascii=False)
    msg = p.parse(text)
    assert isinstance(msg, p.Offer | p.Answer | p.Candidate | p.Renegotiate)
    assert wire(p.Relay("c1", msg)) == {"v": 1, **fields, "from": "c1"}


@pytest.mark.parametrize("key", ['"from"', '"fr\\u006fm"'])
def test_relay_of_a_frame_with_its_own_from_cannot_spoof(key: str) -> None:
    msg = p.parse('{"v": 1, "type": "offer", "to": "o1", "sdp": "v=0", ' + key + ': "o1"}')
    assert isinstance(msg, p.Offer)
    text = p.serialise(p.Relay("c1", msg))
    assert text.count('"from"') == 1 and "u006f" not in text
    assert json.loads(text) == {"v": 1, "type": "offer", "from": "c1", "to": "o1", "sdp": "v=0"}
