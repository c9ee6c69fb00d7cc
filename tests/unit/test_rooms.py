"""The room policy as a pure state machine: lobby, admit, decline, end, leave, reconnect, replace, relay."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from signaling import protocol as p
from signaling.consultation.room import Effect, MarkEnded, Room
from signaling.effects import Close, Send

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def room(clock: Clock) -> Room:
    ids = (f"p{n}" for n in itertools.count(1))
    return Room("R", ice_servers=({"urls": "stun:example.org"},), clock=clock, new_id=lambda: next(ids))


def sent(effects: list[Effect], connection: str) -> list[p.ServerMessage]:
    """The messages the effects send to one connection, in order."""
    return [e.message for e in effects if isinstance(e, Send) and connection in e.to]


def closes(effects: list[Effect]) -> list[tuple[str, int]]:
    return [(e.connection, e.code) for e in effects if isinstance(e, Close)]


def one(effects: list[Effect], connection: str) -> p.ServerMessage:
    messages = sent(effects, connection)
    assert len(messages) == 1, messages
    return messages[0]


def welcome(effects: list[Effect], connection: str) -> p.Welcome:
    msg = sent(effects, connection)[0]
    assert isinstance(msg, p.Welcome)
    return msg


def lobby_ids(effects: list[Effect], connection: str) -> list[str]:
    lobbies = [m for m in sent(effects, connection) if isinstance(m, p.Lobby)]
    assert lobbies, "no lobby update"
    return [w.id for w in lobbies[-1].waiting]


def with_call(room: Room) -> tuple[str, str]:
    """Operator on connection "o", citizen admitted on connection "c"; return their participant ids."""
    op = welcome(room.join("o", "staff:1", "operator", "Dott.ssa Rossi"), "o").id
    cit = welcome(room.join("c", "citizen:a", "citizen", "Maria"), "c").id
    room.handle("o", p.Admit(cit))
    return op, cit


def test_operator_joins_in_call_and_gets_lobby(room: Room) -> None:
    effects = room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    assert sent(effects, "o") == [
        p.Welcome("p1", "operator", "R", "in_call", (), ({"urls": "stun:example.org"},)),
        p.Lobby(()),
    ]


def test_citizen_knocks_and_operator_sees_lobby(room: Room, clock: Clock) -> None:
    room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    effects = room.join("c", "citizen:a", "citizen", "Maria")
    assert welcome(effects, "c") == p.Welcome("p2", "citizen", "R", "waiting", (), ({"urls": "stun:example.org"},))
    assert one(effects, "o") == p.Lobby((p.Waiting("p2", "Maria", "2026-11-27T10:00:00Z"),))


def test_citizen_waiting_before_operator_arrives_is_in_first_lobby(room: Room) -> None:
    room.join("c", "citizen:a", "citizen", "Maria")
    effects = room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    assert lobby_ids(effects, "o") == ["p1"]
    assert welcome(effects, "o").peers == ()


def test_admit(room: Room) -> None:
    room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    room.join("c", "citizen:a", "citizen", "Maria")
    effects = room.handle("o", p.Admit("p2"))
    assert one(effects, "c") == p.Admitted((p.Peer("p1", "operator", "Dott.ssa Rossi"),))
    assert sent(effects, "o") == [p.Lobby(()), p.PeerJoined("p2", "citizen", "Maria")]
    citizen = room.participant("c")
    assert citizen is not None and citizen.in_call


def test_decline_closes_and_forgets(room: Room) -> None:
    room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    room.join("c", "citizen:a", "citizen", "Maria")
    effects = room.handle("o", p.Decline("p2"))
    assert sent(effects, "c") == [p.Declined()]
    assert closes(effects) == [("c", 1000)]
    assert lobby_ids(effects, "o") == []
    assert room.participant("c") is None
    again = room.join("c2", "citizen:a", "citizen", "Maria")
    assert welcome(again, "c2").id == "p3"  # a newcomer


def test_only_operator_admits_declines_ends(room: Room) -> None:
    _, cit = with_call(room)
    for msg in (p.Admit(cit), p.Decline(cit), p.End()):
        error = one(room.handle("c", msg), "c")
        assert isinstance(error, p.Error) and error.code == "forbidden" and error.ref == msg.type
    assert not room.ended


def test_admit_unknown_or_not_waiting(room: Room) -> None:
    _, cit = with_call(room)
    for target in ("nobody", cit):
        error = one(room.handle("o", p.Admit(target)), "o")
        assert isinstance(error, p.Error) and error.code == "no_such_peer"


def test_waiting_citizen_cannot_relay_or_chat(room: Room) -> None:
    room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    room.join("c", "citizen:a", "citizen", "Maria")
    for msg in (p.Offer("p1", "v=0"), p.Chat("hello"), p.Media(audio=False, video=False)):
        effects = room.handle("c", msg)
        assert sent(effects, "o") == []
        error = one(effects, "c")
        assert isinstance(error, p.Error) and error.code == "forbidden"


def test_relay_sets_from_and_targets_one_peer(room: Room) -> None:
    op, cit = with_call(room)
    offer = p.Offer(cit, "v=0")
    assert room.handle("o", offer) == [Send(("c",), p.Relay(op, offer))]
    candidate = p.Candidate(op, p.IceCandidate("candidate:1", "0", 0))
    assert room.handle("c", candidate) == [Send(("o",), p.Relay(cit, candidate))]


def test_relay_to_unknown_or_self_is_an_error(room: Room) -> None:
    op, _ = with_call(room)
    for target in ("nobody", op):
        error = one(room.handle("o", p.Offer(target, "v=0")), "o")
        assert isinstance(error, p.Error) and error.code == "no_such_peer" and error.ref == "offer"


def test_relay_to_waiting_citizen_is_refused(room: Room) -> None:
    room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    room.join("c", "citizen:a", "citizen", "Maria")
    error = one(room.handle("o", p.Offer("p2", "v=0")), "o")
    assert isinstance(error, p.Error) and error.code == "no_such_peer"


def test_chat_and_media_go_to_the_others(room: Room, clock: Clock) -> None:
    op, cit = with_call(room)
    clock.now = T0 + timedelta(minutes=5)
    assert room.handle("c", p.Chat("ciao")) == [Send(("o",), p.ChatLine(cit, "Maria", "ciao", "2026-11-27T10:05:00Z"))]
    assert room.handle("o", p.Media(audio=False, video=True)) == [Send(("c",), p.MediaState(op, False, True))]
    # the media state is part of what a newcomer sees
    room.disconnect("c")
    assert welcome(room.join("c2", "citizen:a", "citizen", "Maria"), "c2").peers == (
        p.Peer(op, "operator", "Dott.ssa Rossi", audio=False, video=True),
    )


def test_citizen_leaves_lobby(room: Room) -> None:
    room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    room.join("c", "citizen:a", "citizen", "Maria")
    effects = room.handle("c", p.Leave())
    assert lobby_ids(effects, "o") == []
    assert room.participant("c") is None


def test_leave_from_call_tells_peer_and_forgets(room: Room) -> None:
    _, cit = with_call(room)
    assert room.handle("c", p.Leave()) == [Send(("o",), p.PeerLeft(cit))]
    rejoin = room.join("c2", "citizen:a", "citizen", "Maria")
    assert welcome(rejoin, "c2").state == "waiting"


def test_disconnect_in_call_then_reconnect_goes_straight_back(room: Room) -> None:
    op, cit = with_call(room)
    assert room.disconnect("c") == [Send(("o",), p.PeerLeft(cit))]
    effects = room.join("c2", "citizen:a", "citizen", "Maria")
    hello = welcome(effects, "c2")
    assert (hello.id, hello.state, [x.id for x in hello.peers]) == (cit, "in_call", [op])
    assert sent(effects, "o") == [p.PeerJoined(cit, "citizen", "Maria")]


def test_operator_reconnect_sees_citizen_in_call(room: Room) -> None:
    op, cit = with_call(room)
    assert room.disconnect("o") == [Send(("c",), p.PeerLeft(op))]
    effects = room.join("o2", "staff:1", "operator", "Dott.ssa Rossi")
    assert [x.id for x in welcome(effects, "o2").peers] == [cit]
    assert sent(effects, "c") == [p.PeerJoined(op, "operator", "Dott.ssa Rossi")]


def test_waiting_citizen_keeps_place_across_reconnect(room: Room, clock: Clock) -> None:
    room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    room.join("a", "citizen:a", "citizen", "Anna")
    clock.now = T0 + timedelta(minutes=1)
    room.join("b", "citizen:b", "citizen", "Bruno")
    assert lobby_ids(room.disconnect("a"), "o") == ["p3"]  # hidden while away
    clock.now = T0 + timedelta(minutes=2)
    effects = room.join("a2", "citizen:a", "citizen", "Anna")
    assert lobby_ids(effects, "o") == ["p2", "p3"]
    last = [m for m in sent(effects, "o") if isinstance(m, p.Lobby)][-1]
    assert last.waiting[0].since == "2026-11-27T10:00:00Z"


def test_second_join_replaces_connection(room: Room) -> None:
    _, cit = with_call(room)
    effects = room.join("c2", "citizen:a", "citizen", "Maria")
    assert closes(effects) == [("c", 4000)]
    assert sent(effects, "o") == [p.PeerLeft(cit), p.PeerJoined(cit, "citizen", "Maria")]
    assert welcome(effects, "c2").state == "in_call"
    # the replaced socket closing later changes nothing
    assert room.disconnect("c") == []
    assert room.handle("c2", p.Chat("still here")) != []


def test_replacing_a_waiting_citizen_keeps_one_lobby_entry(room: Room) -> None:
    room.join("o", "staff:1", "operator", "Dott.ssa Rossi")
    room.join("c", "citizen:a", "citizen", "Maria")
    effects = room.join("c2", "citizen:a", "citizen", "Maria")
    assert closes(effects) == [("c", 4000)]
    assert lobby_ids(effects, "o") == ["p2"]
    assert welcome(effects, "c2").state == "waiting"


def test_end_marks_ended_tells_everyone_and_closes(room: Room) -> None:
    with_call(room)
    room.join("w", "citizen:b", "citizen", "Bruno")
    effects = room.handle("o", p.End())
    assert effects[0] == MarkEnded("R", "staff:1")
    assert {c for e in effects if isinstance(e, Send) and e.message == p.Ended() for c in e.to} == {"o", "c", "w"}
    assert sorted(closes(effects)) == [("c", 1000), ("o", 1000), ("w", 1000)]
    assert room.ended and room.idle
    refused = one(room.join("x", "citizen:a", "citizen", "Maria"), "x")
    assert isinstance(refused, p.Error) and refused.code == "room_ended"


def test_messages_before_join_are_refused(room: Room) -> None:
    error = one(room.handle("stranger", p.Chat("hi")), "stranger")
    assert isinstance(error, p.Error) and error.code == "not_in_room"


def test_idle_after_everyone_disconnects(room: Room) -> None:
    with_call(room)
    assert not room.idle
    room.disconnect("o")
    room.disconnect("c")
    assert room.idle and room.connections == ()


@pytest.mark.parametrize("msg", [p.Hand(raised=True), p.Mute(id="p2"), p.Lock(locked=True), p.Screen(on=True)])
def test_group_room_messages_are_refused_in_a_consultation(room: Room, msg: p.ClientMessage) -> None:
    with_call(room)
    before = room.participant("o")
    assert sent(room.handle("o", msg), "o") == [
        p.Error("unknown_type", "not a message of consultation rooms", msg.type)
    ]
    assert room.participant("o") == before
