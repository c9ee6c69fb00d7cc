"""The group rooms' messages: the new client messages parse, bad ones are refused with the right code and field,
the server messages serialise to the shapes of docs/supervision.md, and the 1:1 names still resolve."""

from __future__ import annotations

import json
from typing import Any, get_args

import msgspec
import pytest

from signaling import protocol as p


def frame(**fields: Any) -> str:
    return json.dumps({"v": 1, **fields})


def sent(msg: p.ClientMessage) -> p.ClientMessage:
    return msgspec.structs.replace(msg, v=1)


def wire(msg: p.ServerMessage) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(p.serialise(msg))
    return decoded


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "screen", "on": True}, p.Screen(on=True)),
        ({"type": "hand", "raised": False}, p.Hand(raised=False)),
        ({"type": "mute", "id": "p2"}, p.Mute("p2")),
        ({"type": "stop_video", "id": "p2"}, p.StopVideo("p2")),
        ({"type": "remove", "id": "p2"}, p.Remove("p2")),
        ({"type": "lock", "locked": True}, p.Lock(locked=True)),
        ({"type": "offer", "to": "sfu", "sdp": "v=0"}, p.Offer("sfu", "v=0")),
        ({"type": "candidate", "to": "sfu", "candidate": None}, p.Candidate("sfu", None)),
        ({"type": "hand", "raised": True, "later": 1}, p.Hand(raised=True)),
    ],
)
def test_parse_group_messages(fields: dict[str, Any], expected: p.ClientMessage) -> None:
    assert p.parse(frame(**fields)) == sent(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (frame(type="screen"), "field 'on' is required"),
        (frame(type="screen", on="yes"), "field 'on' must be a boolean"),
        (frame(type="screen", on=1), "field 'on' must be a boolean"),
        (frame(type="hand"), "field 'raised' is required"),
        (frame(type="hand", raised=None), "field 'raised' must be a boolean"),
        (frame(type="mute"), "field 'id' is required"),
        (frame(type="mute", id=7), "field 'id' must be a string"),
        (frame(type="mute", id=""), "field 'id' must not be empty"),
        (frame(type="stop_video", id="x" * 65), "field 'id' must be at most 64 characters"),
        (frame(type="stop_video", id=["p2"]), "field 'id' must be a string"),
        (frame(type="remove", id=None), "field 'id' must be a string"),
        (frame(type="remove"), "field 'id' is required"),
        (frame(type="lock", locked="true"), "field 'locked' must be a boolean"),
        (frame(type="lock"), "field 'locked' is required"),
    ],
)
def test_bad_group_messages_are_invalid_and_name_the_field(text: str, message: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse(text)
    kind = json.loads(text)["type"]
    assert (info.value.code, info.value.ref, info.value.message) == ("invalid_message", kind, message)


def test_group_message_of_another_version_is_unsupported() -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse('{"v": 2, "type": "mute", "id": "p2"}')
    assert (info.value.code, info.value.ref) == ("unsupported_version", "mute")


def test_a_frame_to_the_sfu_is_passed_on_raw() -> None:
    text = frame(type="offer", to="sfu", sdp="v=0")
    msg = p.parse(text)
    assert isinstance(msg, p.Offer) and msg.raw == text


def test_message_type_sets() -> None:
    assert p.MESSAGE_TYPES == p.ONE_TO_ONE_TYPES | p.GROUP_TYPES
    assert {"screen", "hand", "mute", "stop_video", "remove", "lock"} == p.GROUP_TYPES - p.ONE_TO_ONE_TYPES
    assert {"decline", "renegotiate"} == p.ONE_TO_ONE_TYPES - p.GROUP_TYPES
    assert p.accepted("/ws/alerts") == frozenset()


def test_the_unions_for_the_type_checker_are_the_declared_messages() -> None:
    assert set(get_args(p.ClientMessage)) == set(p.CLIENT_MESSAGES)
    assert set(get_args(p.ServerMessage)) == set(p.SERVER_MESSAGES)
    assert len(p.CLIENT_MESSAGES) == 17 and len(p.SERVER_MESSAGES) == 23


def test_each_message_declares_its_type_and_sockets_once() -> None:
    for cls in p.CLIENT_MESSAGES + p.SERVER_MESSAGES:
        assert cls.sockets and set(cls.sockets) <= {"/ws", "/ws/group", "/ws/alerts"}, cls
        tag = cls.__struct_config__.tag
        assert tag is None or tag == vars(cls)["type"], cls  # the tag is the type (None: relay and SFU SDP)
    for socket in ("/ws", "/ws/group"):
        types = [cls.type for cls in p.CLIENT_MESSAGES if socket in cls.sockets]
        assert len(types) == len(set(types)), socket  # one decoder: a type means one struct


def test_every_message_resolves_through_protocol() -> None:
    from signaling.protocol import consultation, group, messages

    for module in (messages, consultation, group):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == module.__name__:
                assert getattr(p, name) is value, name
    for name in ("VERSION", "MAX_SDP", "MAX_CHAT", "MAX_ID", "MAX_CANDIDATE", "SFU", "Role", "GroupRole", "Relayed"):
        assert hasattr(p, name), name


def test_serialise_group_welcome() -> None:
    peer = p.GroupPeer("p1", "moderator", "Dott.ssa Rossi", audio=False, hand=True)
    welcome = p.GroupWelcome("p2", "member", "R", "in_call", (peer,), locked=True, ice_servers=({"urls": "stun:x"},))
    assert wire(welcome) == {
        "v": 1,
        "type": "welcome",
        "id": "p2",
        "role": "member",
        "room": "R",
        "state": "in_call",
        "peers": [
            {
                "id": "p1",
                "role": "moderator",
                "name": "Dott.ssa Rossi",
                "audio": False,
                "video": True,
                "screen": False,
                "hand": True,
            }
        ],
        "locked": True,
        "ice_servers": [{"urls": "stun:x"}],
    }


ICE = {"candidate": "candidate:1", "sdpMid": "0", "sdpMLineIndex": 0}
PEER = {"id": "p1", "role": "member", "name": "Luca", "audio": True, "video": True, "screen": False, "hand": False}


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (p.ScreenState("p1", on=True), {"type": "screen", "from": "p1", "on": True}),
        (p.HandState("p1", raised=False), {"type": "hand", "from": "p1", "raised": False}),
        (p.Speakers(("p3", "p1"), ("p4",)), {"type": "speakers", "active": ["p3", "p1"], "paused": ["p4"]}),
        (p.Speakers((), ()), {"type": "speakers", "active": [], "paused": []}),
        (
            p.Tracks((p.Track("0", "p1", "audio"), p.Track("3", "p2", "screen"))),
            {
                "type": "tracks",
                "tracks": [
                    {"mid": "0", "from": "p1", "source": "audio"},
                    {"mid": "3", "from": "p2", "source": "screen"},
                ],
            },
        ),
        (p.Moderated("mute", "p1"), {"type": "moderated", "action": "mute", "by": "p1"}),
        (p.Moderated("stop_video", "p1"), {"type": "moderated", "action": "stop_video", "by": "p1"}),
        (p.Locked(locked=True), {"type": "locked", "locked": True}),
        (p.Removed(), {"type": "removed"}),
        (p.Ended("moderator_ended"), {"type": "ended", "reason": "moderator_ended"}),
        (p.GroupAdmitted((p.GroupPeer("p1", "member", "Luca"),)), {"type": "admitted", "peers": [PEER]}),
        (p.GroupPeerJoined("p1", "member", "Luca"), {"type": "peer_joined", **PEER}),
        (p.SfuSdp(kind="offer", sdp="v=0"), {"type": "offer", "from": "sfu", "sdp": "v=0"}),
        (p.SfuSdp(kind="answer", sdp="v=0"), {"type": "answer", "from": "sfu", "sdp": "v=0"}),
        (p.SfuCandidate(candidate=None), {"type": "candidate", "from": "sfu", "candidate": None}),
        (
            p.SfuCandidate(candidate={"candidate": "candidate:1", "sdpMid": "0", "sdpMLineIndex": 0}),
            {
                "type": "candidate",
                "from": "sfu",
                "candidate": {"candidate": "candidate:1", "sdpMid": "0", "sdpMLineIndex": 0},
            },
        ),
        (
            p.Error("negotiation_busy", "answer the SFU's offer, then offer again", "offer"),
            {
                "type": "error",
                "code": "negotiation_busy",
                "message": "answer the SFU's offer, then offer again",
                "ref": "offer",
            },
        ),
    ],
)
def test_serialise_group_messages(msg: p.ServerMessage, expected: dict[str, Any]) -> None:
    assert wire(msg) == {"v": 1, **expected}


def test_ice_init_gives_the_sfu_a_plain_candidate() -> None:
    msg = p.parse(frame(type="candidate", to="sfu", candidate={"candidate": "c", "sdpMid": "0", "sdpMLineIndex": 0}))
    assert isinstance(msg, p.Candidate)
    assert p.ice_init(msg.candidate) == {"candidate": "c", "sdpMid": "0", "sdpMLineIndex": 0}
    assert p.ice_init(None) is None
