"""The group room policy as a pure state machine: entering, the lock and the waiting list, moderation enforced in
the forwarding table, active speakers and last N, replacement, disconnects and the register."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from signaling import protocol as p
from signaling.effects import Close, Send
from signaling.group.room import GroupRoom
from signaling.group.values import Attendance, Effect, MeetingEnded, Route, SfuJoin, SfuLeave, ToSfu
from signaling.sfu import Feed

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ICE = ({"urls": "stun:example.org"},)
AV = ("audio", "camera")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def room(clock: Clock) -> GroupRoom:
    ids = (f"p{n}" for n in itertools.count(1))
    return GroupRoom("R", last_n=2, ice_servers=ICE, clock=clock, new_id=lambda: next(ids))


def sent(effects: list[Effect], connection: str) -> list[p.ServerMessage]:
    return [e.message for e in effects if isinstance(e, Send) and connection in e.to]


def of(effects: list[Effect], kind: type) -> list[Effect]:
    return [e for e in effects if isinstance(e, kind)]


def table(effects: list[Effect]) -> dict[str, set[Feed]]:
    """The one forwarding table the effects carry (as plain sets, to compare)."""
    routes = of(effects, Route)
    assert len(routes) == 1, routes
    route = routes[0]
    assert isinstance(route, Route)
    return {subscriber: set(feeds) for subscriber, feeds in route.table.items()}


def error(effects: list[Effect], connection: str) -> tuple[str, str | None]:
    assert len(effects) == 1, effects
    (msg,) = sent(effects, connection)
    assert isinstance(msg, p.Error)
    return msg.code, msg.ref


def enter(room: GroupRoom, connection: str, *, moderator: bool = False, publish: tuple[str, ...] = ()) -> str:
    """``connection`` joins as the person ``key:<connection>`` named after it; returns their participant id."""
    msg = sent(room.join(connection, f"key:{connection}", connection.title(), moderator=moderator), connection)[0]
    assert isinstance(msg, p.GroupWelcome)
    for source in publish:
        room.publishing(msg.id, source, True)  # type: ignore[arg-type]
    return msg.id


def cams(room: GroupRoom, subscriber: str) -> set[str]:
    return {f.publisher for f in room.table[subscriber] if f.source == "camera"}


def speakers(effects: list[Effect], connection: str) -> p.Speakers:
    (msg,) = [m for m in sent(effects, connection) if isinstance(m, p.Speakers)]
    assert isinstance(msg, p.Speakers)
    return msg


# -- entering, the lock, the waiting list ----------------------------------------------------------------------


def test_moderator_enters_with_welcome_lobby_sfu_register_and_table(room: GroupRoom) -> None:
    assert room.join("a", "key:a", "Anna", moderator=True) == [
        Send(("a",), p.GroupWelcome("p1", "moderator", "R", "in_call", (), False, ICE)),
        Send(("a",), p.Lobby(())),
        SfuJoin("p1"),
        Attendance("R", "key:a", "Anna", "joined", T0),
        Route({"p1": frozenset()}),
    ]


def test_member_enters_an_unlocked_room_and_sees_the_others(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    room.handle("a", p.Hand(raised=True))
    effects = room.join("b", "key:b", "Bruno", moderator=False)
    anna = p.GroupPeer(a, "moderator", "A", hand=True)
    assert effects == [
        Send(("b",), p.GroupWelcome("p2", "member", "R", "in_call", (anna,), False, ICE)),
        Send(("a",), p.GroupPeerJoined("p2", "member", "Bruno")),
        SfuJoin("p2"),
        Attendance("R", "key:b", "Bruno", "joined", T0),
        Route({"p1": frozenset(), "p2": frozenset({Feed("p1", "audio"), Feed("p1", "camera")})}),
    ]


def test_locked_room_newcomer_waits_then_is_admitted(room: GroupRoom, clock: Clock) -> None:
    a = enter(room, "a", moderator=True)
    b = enter(room, "b")
    assert room.handle("a", p.Lock(locked=True)) == [Send(("a", "b"), p.Locked(locked=True))]
    clock.now = T0 + timedelta(minutes=1)
    effects = room.join("c", "key:c", "Carla", moderator=False)
    assert effects == [
        Send(("c",), p.GroupWelcome("p3", "member", "R", "waiting", (), True, ICE)),
        Send(("a",), p.Lobby((p.Waiting("p3", "Carla", "2026-11-27T10:01:00Z"),))),
    ]
    assert room.table.keys() == {a, b}
    assert error(room.handle("c", p.Offer("sfu", "v=0")), "c") == ("forbidden", "offer")
    assert error(room.handle("c", p.Hand(raised=True)), "c") == ("forbidden", "hand")
    assert error(room.handle("c", p.Admit("p3")), "c") == ("forbidden", "admit")
    assert error(room.handle("b", p.Admit("p3")), "b") == ("forbidden", "admit")
    effects = room.handle("a", p.Admit("p3"))
    assert effects[:5] == [
        Send(("c",), p.GroupAdmitted((p.GroupPeer(a, "moderator", "A"), p.GroupPeer(b, "member", "B")))),
        Send(("a", "b"), p.GroupPeerJoined("p3", "member", "Carla")),
        SfuJoin("p3"),
        Attendance("R", "key:c", "Carla", "joined", clock.now),
        Route({a: frozenset(), b: frozenset(), "p3": frozenset()}),
    ]
    assert effects[5:] == [Send(("a",), p.Lobby(()))]
    assert error(room.handle("a", p.Admit("p3")), "a") == ("no_such_peer", "admit")


def test_moderator_enters_a_locked_room(room: GroupRoom) -> None:
    enter(room, "a", moderator=True)
    room.handle("a", p.Lock(locked=True))
    welcome = sent(room.join("z", "key:z", "Zeno", moderator=True), "z")[0]
    assert isinstance(welcome, p.GroupWelcome) and (welcome.state, welcome.locked) == ("in_call", True)


def test_unlocking_lets_everyone_waiting_in_longest_waiting_first(room: GroupRoom, clock: Clock) -> None:
    enter(room, "a", moderator=True)
    room.handle("a", p.Lock(locked=True))
    room.join("c", "key:c", "Carla", moderator=False)
    clock.now = T0 + timedelta(seconds=5)
    room.join("d", "key:d", "Dario", moderator=False)
    assert room.handle("a", p.Lock(locked=True)) == []
    effects = room.handle("a", p.Lock(locked=False))
    assert effects[0] == Send(("a", "c", "d"), p.Locked(locked=False))
    assert of(effects, SfuJoin) == [SfuJoin("p2"), SfuJoin("p3")]
    assert sent(effects, "a")[-1] == p.Lobby(())
    assert set(room.table) == {"p1", "p2", "p3"}


def test_removed_member_cannot_come_back_while_locked(room: GroupRoom, clock: Clock) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    c = enter(room, "c", publish=AV)
    room.handle("a", p.Lock(locked=True))
    effects = room.handle("a", p.Remove(b))
    assert effects[:5] == [
        Send(("b",), p.Removed()),
        Close("b", 4003),
        Send(("a", "c"), p.PeerLeft(b)),
        SfuLeave(b),
        Attendance("R", "key:b", "B", "left", T0),
    ]
    assert table(effects) == {a: {Feed(c, "audio"), Feed(c, "camera")}, c: {Feed(a, "audio"), Feed(a, "camera")}}
    assert room.disconnect("b") == []  # the hub reports the close afterwards: nothing more happens
    effects = room.join("b2", "key:b", "B", moderator=False)
    assert sent(effects, "b2")[0] == p.GroupWelcome(b, "member", "R", "waiting", (), True, ICE)
    assert not of(effects, SfuJoin) and not of(effects, Attendance)
    assert sent(effects, "a") == [p.Lobby((p.Waiting(b, "B", "2026-11-27T10:00:00Z"),))]
    effects = room.handle("a", p.Admit(b))
    assert of(effects, SfuJoin) == [SfuJoin(b)]


def test_removed_member_comes_back_when_unlocked(room: GroupRoom) -> None:
    enter(room, "a", moderator=True)
    b = enter(room, "b")
    room.handle("a", p.Remove(b))
    assert of(room.join("b2", "key:b", "B", moderator=False), SfuJoin) == [SfuJoin(b)]


def test_leave_forgets_so_a_locked_room_makes_them_wait(room: GroupRoom) -> None:
    enter(room, "a", moderator=True)
    b = enter(room, "b")
    room.handle("a", p.Lock(locked=True))
    effects = room.handle("b", p.Leave())
    assert effects[:3] == [Send(("a",), p.PeerLeft(b)), SfuLeave(b), Attendance("R", "key:b", "B", "left", T0)]
    welcome = sent(room.join("b", "key:b", "B", moderator=False), "b")[0]
    assert isinstance(welcome, p.GroupWelcome) and welcome.state == "waiting"


def test_dropped_member_comes_straight_back_into_a_locked_room(room: GroupRoom, clock: Clock) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    room.handle("a", p.Lock(locked=True))
    clock.now = T0 + timedelta(minutes=3)
    effects = room.disconnect("b")
    assert effects == [
        Send(("a",), p.PeerLeft(b)),
        SfuLeave(b),
        Attendance("R", "key:b", "B", "left", clock.now),
        Route({a: frozenset()}),
    ]
    assert room.disconnect("b") == []
    effects = room.join("b", "key:b", "B", moderator=False)
    assert of(effects, SfuJoin) == [SfuJoin(b)]
    assert table(effects) == {a: set(), b: {Feed(a, "audio"), Feed(a, "camera")}}  # b's feeds: not yet again


def test_second_join_replaces_the_first_connection(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    effects = room.join("b2", "key:b", "B", moderator=False)
    assert effects == [
        Send(("a",), p.PeerLeft(b)),
        SfuLeave(b),
        Attendance("R", "key:b", "B", "left", T0),
        Close("b", 4000, "replaced"),
        Send(("b2",), p.GroupWelcome(b, "member", "R", "in_call", (p.GroupPeer(a, "moderator", "A"),), False, ICE)),
        Send(("a",), p.GroupPeerJoined(b, "member", "B")),
        SfuJoin(b),
        Attendance("R", "key:b", "B", "joined", T0),
        Route({a: frozenset(), b: frozenset({Feed(a, "audio"), Feed(a, "camera")})}),
    ]
    assert room.disconnect("b") == []
    assert room.connection_of(b) == "b2"


def test_end_ends_for_everyone(room: GroupRoom) -> None:
    enter(room, "a", moderator=True)
    enter(room, "b")
    room.handle("a", p.Lock(locked=True))
    room.join("c", "key:c", "C", moderator=False)
    assert error(room.handle("b", p.End()), "b") == ("forbidden", "end")
    assert room.handle("a", p.End()) == [
        MeetingEnded("R", "key:a"),
        Attendance("R", "key:a", "A", "left", T0),
        Attendance("R", "key:b", "B", "left", T0),
        Send(("a", "b", "c"), p.Ended("moderator_ended")),
        Close("a", 1000, "ended"),
        Close("b", 1000, "ended"),
        Close("c", 1000, "ended"),
    ]
    assert room.idle and room.disconnect("a") == []
    assert error(room.join("a", "key:a", "A", moderator=True), "a") == ("room_ended", "join")


# -- moderation ------------------------------------------------------------------------------------------------


def test_mute_leaves_audio_out_until_the_target_unmutes(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    c = enter(room, "c", publish=AV)
    effects = room.handle("a", p.Mute(b))
    assert effects[:2] == [
        Send(("b",), p.Moderated("mute", a)),
        Send(("a", "b", "c"), p.MediaState(b, audio=False, video=True)),
    ]
    assert table(effects) == {
        a: {Feed(b, "camera"), Feed(c, "audio"), Feed(c, "camera")},
        b: {Feed(a, "audio"), Feed(a, "camera"), Feed(c, "audio"), Feed(c, "camera")},
        c: {Feed(a, "audio"), Feed(a, "camera"), Feed(b, "camera")},
    }
    assert room.handle("a", p.Mute(b)) == []  # already muted
    assert room.speaking(b, 10) == []  # a muted participant's speech is ignored
    assert room.handle("b", p.Media(audio=False, video=True)) == [
        Send(("a", "c"), p.MediaState(b, audio=False, video=True))
    ]
    effects = room.handle("b", p.Media(audio=True, video=True))
    assert Feed(b, "audio") in table(effects)[a] and Feed(b, "audio") in table(effects)[c]


def test_stop_video_leaves_the_camera_out_and_not_as_paused(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    c = enter(room, "c", publish=AV)
    d = enter(room, "d", publish=AV)
    assert cams(room, a) == {b, c} and cams(room, b) == {a, c}
    effects = room.handle("a", p.StopVideo(b))
    assert sent(effects, "b")[0] == p.Moderated("stop_video", a)
    assert sent(effects, "c")[0] == p.MediaState(b, audio=True, video=False)
    assert table(effects)[a] == {Feed(b, "audio"), Feed(c, "audio"), Feed(c, "camera"), Feed(d, "audio")} | {
        Feed(d, "camera")
    }
    assert speakers(effects, "a") == p.Speakers((), ())  # d is no longer paused for a: now forwarded
    assert speakers(effects, "c") == p.Speakers((), ())
    assert Feed(b, "camera") not in table(effects)[c]
    effects = room.handle("b", p.Media(audio=True, video=True))
    assert cams(room, a) == {b, c} and speakers(effects, "a") == p.Speakers((), (d,))


def test_members_cannot_moderate_and_nothing_changes(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    enter(room, "b", publish=AV)
    before = dict(room.table)
    for msg in (p.Mute(a), p.StopVideo(a), p.Remove(a), p.Lock(locked=True), p.Admit(a), p.End()):
        assert error(room.handle("b", msg), "b") == ("forbidden", msg.type)
    assert room.table == before and not room.locked and room.connection_of(a) == "a"


def test_moderation_of_unknown_or_absent_targets_is_no_such_peer(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True)
    z = enter(room, "z", moderator=True)
    room.handle("a", p.Lock(locked=True))
    room.join("w", "key:w", "W", moderator=False)  # waiting: p3
    for msg in (p.Mute("nobody"), p.StopVideo("p3"), p.Remove(a), p.Mute(a), p.Admit("nobody"), p.Admit(z)):
        assert error(room.handle("a", msg), "a") == ("no_such_peer", msg.type)
    assert error(room.handle("a", p.Remove(z)), "a") == ("forbidden", "remove")  # a moderator cannot be removed


def test_moderators_can_mute_each_other(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    z = enter(room, "z", moderator=True, publish=AV)
    effects = room.handle("a", p.Mute(z))
    assert table(effects)[a] == {Feed(z, "camera")}


# -- participants' own state, chat, signaling to the SFU -------------------------------------------------------


def test_hand_screen_chat_go_to_the_others(room: GroupRoom, clock: Clock) -> None:
    enter(room, "a", moderator=True)
    b = enter(room, "b")
    enter(room, "c")
    assert room.handle("b", p.Hand(raised=True)) == [Send(("a", "c"), p.HandState(b, raised=True))]
    assert room.handle("b", p.Screen(on=True)) == [Send(("a", "c"), p.ScreenState(b, on=True))]
    clock.now = T0 + timedelta(seconds=30)
    assert room.handle("b", p.Chat("ciao")) == [Send(("a", "c"), p.ChatLine(b, "B", "ciao", "2026-11-27T10:00:30Z"))]
    welcome = sent(room.join("d", "key:d", "D", moderator=False), "d")[0]
    assert isinstance(welcome, p.GroupWelcome)
    assert welcome.peers[1] == p.GroupPeer(b, "member", "B", screen=True, hand=True)


def test_signaling_goes_to_the_sfu_only(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True)
    b = enter(room, "b")
    offer = p.Offer("sfu", "v=0")
    assert room.handle("b", offer) == [ToSfu(b, offer)]
    candidate = p.Candidate("sfu", None)
    assert room.handle("a", candidate) == [ToSfu(a, candidate)]
    assert error(room.handle("b", p.Answer(a, "v=0")), "b") == ("no_such_peer", "answer")
    assert error(room.handle("b", p.Renegotiate("sfu")), "b") == ("invalid_message", "renegotiate")
    assert error(room.handle("b", p.Decline(a)), "b") == ("invalid_message", "decline")
    assert error(room.handle("x", offer), "x") == ("not_in_room", "offer")
    assert error(room.handle("x", p.Hand(raised=True)), "x") == ("not_in_room", "hand")


# -- publishing, active speakers, last N -----------------------------------------------------------------------


def test_route_only_when_the_table_changes(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True)
    b = enter(room, "b")
    effects = room.publishing(b, "audio", True)
    assert effects == [Route({a: frozenset({Feed(b, "audio")}), b: frozenset()})]
    assert room.publishing(b, "audio", True) == []
    assert room.publishing("nobody", "audio", True) == []
    assert room.publishing(b, "camera", False) == []
    assert room.handle("b", p.Hand(raised=True)) == [Send(("a",), p.HandState(b, raised=True))]
    assert room.publishing(b, "audio", False) == [Route({a: frozenset(), b: frozenset()})]


def test_last_n_fills_with_the_earliest_joiners_and_pauses_the_rest(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    c = enter(room, "c", publish=AV)
    effects = room.join("d", "key:d", "D", moderator=False)
    d = "p4"
    assert speakers(effects, "d") == p.Speakers((), (c,))  # d sees a and b first, c is paused
    assert not [m for m in sent(effects, "a") if isinstance(m, p.Speakers)]  # d publishes nothing yet
    effects = room.publishing(d, "camera", True)
    assert speakers(effects, "a") == p.Speakers((), (d,))
    assert speakers(effects, "b") == p.Speakers((), (d,))
    assert speakers(effects, "c") == p.Speakers((), (d,))
    assert not sent(effects, "d")  # unchanged for d
    assert cams(room, a) == {b, c} and cams(room, b) == {a, c} and cams(room, c) == {a, b} and cams(room, d) == {a, b}
    for subscriber, feeds in room.table.items():
        assert all(f.publisher != subscriber for f in feeds)


def test_a_new_speaker_is_promoted_and_the_least_recent_drops_out(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    c = enter(room, "c", publish=AV)
    d = enter(room, "d", publish=AV)
    assert room.speaking(d, 80) == []  # too quiet: not speech
    effects = room.speaking(d, 30)
    assert table(effects)[a] == {Feed(x, "audio") for x in (b, c, d)} | {Feed(d, "camera"), Feed(b, "camera")}
    assert speakers(effects, "a") == p.Speakers((d,), (c,))
    assert speakers(effects, "b") == p.Speakers((d,), (c,))
    assert speakers(effects, "c") == p.Speakers((d,), (b,))
    assert speakers(effects, "d") == p.Speakers((d,), (c,))
    effects = room.speaking(c, 40)  # ranking c, d, a, b
    assert cams(room, a) == {c, d} and cams(room, c) == {d, a} and cams(room, d) == {c, a}
    assert speakers(effects, "b") == p.Speakers((c, d), (a,))
    assert speakers(effects, "a") == p.Speakers((c, d), (b,))
    # c and d talking in turn change nothing
    assert room.speaking(d, 20) == [] and room.speaking(c, 20) == [] and room.speaking(d, 50) == []
    effects = room.speaking(b, 45)  # ranking b, d, c, a: c spoke before d's last words, so c drops for a
    assert cams(room, a) == {b, d}
    assert speakers(effects, "a") == p.Speakers((b, d), (c,))
    assert speakers(effects, "b") == p.Speakers((b, d), (a,))  # b sees d and c


def test_screen_share_is_always_forwarded(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    c = enter(room, "c", publish=AV)
    d = enter(room, "d", publish=AV)
    effects = room.publishing(d, "screen", True)
    got = table(effects)
    assert all(Feed(d, "screen") in got[x] for x in (a, b, c)) and Feed(d, "screen") not in got[d]
    assert Feed(d, "camera") not in got[a]  # the camera stays paused
    assert [e for e in effects if not isinstance(e, Route)] == []  # nobody's speakers or paused changed


def test_speakers_leaving_the_call_shifts_the_ranking(room: GroupRoom) -> None:
    a = enter(room, "a", moderator=True, publish=AV)
    b = enter(room, "b", publish=AV)
    c = enter(room, "c", publish=AV)
    room.speaking(b, 10)
    effects = room.disconnect("b")
    assert cams(room, a) == {c} and speakers(effects, "a") == p.Speakers((), ())
    assert room.speaking(c, 10) != [] and room.speaking(a, 10) != []
    assert room.speaking("nobody", 10) == []
