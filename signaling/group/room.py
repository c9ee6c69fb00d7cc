"""A group supervision room as a pure state machine: no I/O, no asyncio (``docs/supervision.md``).

As in :mod:`signaling.consultation.room`, the participants are those of :mod:`signaling.participants` (keyed by
identity key, shown under opaque per-room ids, replaced by a second ``join``), connections are opaque strings chosen
by the hub, and every method returns effects the hub carries out in order.
API: ``GroupRoom(id, *, last_n, ice_servers, clock, new_id)``; ``join(connection, key, name, *, moderator)``,
``disconnect(connection)``, ``handle(connection, msg)`` (every client message but ``join``); the SFU's reports
``publishing(participant, source, on)`` and ``speaking(participant, level)``; ``table`` (the current forwarding
table), ``connection_of(participant)``, ``participant(connection)``, ``connections``, ``idle``. Effects:
``Send``, ``Close`` (of :mod:`signaling.effects`), :class:`Route`, :class:`SfuJoin`, :class:`SfuLeave`,
:class:`ToSfu`, :class:`MeetingEnded`, :class:`Attendance`.

- Moderators always enter; others enter unless the room is locked, then wait (the list goes to the moderators as
  ``lobby``) until admitted or the room is unlocked (which lets everyone waiting in). Someone who was in the call
  and dropped comes straight back; someone removed, or who left, waits. A second ``join`` by the same identity
  replaces the earlier connection (closed with 4000). Entering the call starts afresh (microphone and camera on,
  no screen share, hand down, nothing published).
- Moderation is enforced by the table: audio is forwarded only while the participant's ``audio`` is on, the
  camera only while ``video`` is on; ``mute`` / ``stop_video`` turn them off and only the participant's own
  ``media`` turns them on. A muted participant's audio levels are ignored. ``remove`` closes with 4003 (not a
  moderator).
- Speech is a level at or under :data:`SPEECH_LEVEL` -dBov (RFC 6464). Everyone in the call is ranked: those who
  have spoken, most recent first, then the others in the order they entered. ``active`` is those who have spoken
  among the first ``last_n``; the ranking is sorted afresh only when someone not active starts speaking, so
  people talking in turn among the active speakers change nothing (no flapping).
- Each subscriber gets every other participant's audio and screen share, and the cameras of the first ``last_n``
  others in the ranking whose camera is forwardable; the other cameras are ``paused`` for it. Nobody gets their
  own feeds. :class:`Route` is emitted only when the table changes, ``speakers`` only when a participant's
  ``active`` or ``paused`` changes. :class:`Attendance` records every entering and leaving of the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial

from signaling import protocol as p
from signaling.effects import CLOSE_NORMAL, Close, Send
from signaling.group.values import Attendance, Effect, MeetingEnded, Member, Route, SfuJoin, SfuLeave, ToSfu
from signaling.participants import Participants, connections_of, random_id, utcnow
from signaling.protocol.messages import iso
from signaling.sfu import Feed, Source

CLOSE_REMOVED = 4003
SPEECH_LEVEL = 50  # -dBov: a level at or under this (louder) is speech
MODERATOR_ONLY = frozenset({"admit", "end", "lock", "mute", "stop_video", "remove"})


_NO_SPEAKERS = p.Speakers((), ())


def _error(connection: str, code: str, message: str, kind: str) -> list[Effect]:
    return [Send((connection,), p.Error(code, message, kind))]


class GroupRoom(Participants[Member, Effect]):
    """One group supervision room. ``last_n``: how many cameras each participant receives at most."""

    def __init__(
        self,
        id: str,
        *,
        last_n: int = 6,
        ice_servers: tuple[p.IceServer, ...] = (),
        clock: Callable[[], datetime] = utcnow,
        new_id: Callable[[], str] = random_id,
    ) -> None:
        super().__init__(clock=clock, new_id=new_id)
        self.id = id
        self.last_n = last_n
        self.ice_servers = ice_servers
        self.locked = False
        self._rank: list[Member] = []  # everyone in the call, in the speakers' ranking
        self._counter = 0
        self._table: Mapping[str, frozenset[Feed]] = {}
        self._shown: dict[str, p.Speakers] = {}  # the last speakers message each participant got

    # -- queries ---------------------------------------------------------------------------------------------

    @property
    def table(self) -> Mapping[str, frozenset[Feed]]:
        """The current forwarding table (the one the last :class:`Route` carried)."""
        return self._table

    def connection_of(self, participant: str) -> str | None:
        """The connection of the participant ``participant`` (an id) if they are in the call."""
        person = self._by_id.get(participant)
        return person.connection if person is not None and person.in_call else None

    def _in_call(self, *, besides: Member | None = None) -> list[Member]:
        return [x for x in self._rank if x is not besides]

    def _tick(self) -> int:
        self._counter += 1
        return self._counter

    def _lobby(self, to: Member | None = None) -> list[Effect]:
        """The waiting list, to ``to`` or else to every moderator in the call."""
        return self._lobby_to(connections_of([to] if to is not None else (x for x in self._rank if x.moderator)))

    # -- entering and leaving --------------------------------------------------------------------------------

    def join(self, connection: str, key: str, name: str, *, moderator: bool) -> list[Effect]:
        """``connection`` joins as the person ``key``, a moderator or not as the server decided."""
        if self.ended:
            return _error(connection, "room_ended", "this meeting is over", "join")
        person, effects = self._arrive(
            connection, key, lambda id: Member(id, key, name, moderator), partial(self._detach, sync=False)
        )
        person.name, person.host = name, moderator
        if not self.locked:
            person.admitted = True
        if not person.in_call:
            person.since = person.since or self.clock()
            welcome = p.GroupWelcome(person.id, "member", self.id, "waiting", (), self.locked, self.ice_servers)
            return [*effects, Send((connection,), welcome), *self._lobby()]
        return effects + self._enter(person, admitted=False)

    def _enter(self, person: Member, *, admitted: bool) -> list[Effect]:
        """Put ``person`` (connected) into the call: greet them, tell the others, the SFU and the register."""
        assert person.connection is not None
        others = self._in_call()
        person.since, person.entered, person.spoke = None, self._tick(), 0
        person.audio, person.video, person.screen, person.hand = True, True, False, False
        person.published.clear()
        self._rank.append(person)
        peers = tuple(x.peer() for x in others)
        me = person.peer()
        greeting: p.ServerMessage = (
            p.GroupAdmitted(peers)
            if admitted
            else p.GroupWelcome(person.id, me.role, self.id, "in_call", peers, self.locked, self.ice_servers)
        )
        effects: list[Effect] = [Send((person.connection,), greeting)]
        if person.moderator:
            effects += self._lobby(to=person)
        if others:
            joined = p.GroupPeerJoined(me.id, me.role, me.name, me.audio, me.video, me.screen, me.hand)
            effects.append(Send(connections_of(others), joined))
        effects += [SfuJoin(person.id), Attendance(self.id, person.key, person.name, "joined", self.clock())]
        return effects + self._sync()

    def _detach(self, person: Member, *, sync: bool = True) -> list[Effect]:
        """Take the person's connection out of the room and tell the others, the SFU and the register."""
        was_in_call, was_waiting = person.in_call, person.waiting
        self._drop(person)
        if not was_in_call:
            return self._lobby() if was_waiting else []
        self._rank.remove(person)
        self._shown.pop(person.id, None)
        person.published.clear()
        others = connections_of(self._rank)
        effects: list[Effect] = [Send(others, p.PeerLeft(person.id))] if others else []
        effects += [SfuLeave(person.id), Attendance(self.id, person.key, person.name, "left", self.clock())]
        return effects + self._sync() if sync else effects

    # -- messages from a participant -------------------------------------------------------------------------

    def handle(self, connection: str, msg: p.ClientMessage) -> list[Effect]:
        """A message from a connection that has joined this room (``join`` itself goes to :meth:`join`)."""
        person = self._by_connection.get(connection)
        if isinstance(msg, p.RELAYED) and person is not None:  # most of the traffic, so looked at first
            if not person.in_call:
                return _error(connection, "forbidden", "wait until you are admitted", msg.type)
            if isinstance(msg, p.Renegotiate):
                return _error(connection, "invalid_message", "renegotiate is not used in group rooms", msg.type)
            if msg.to != p.SFU:
                return _error(connection, "no_such_peer", 'media goes through the SFU: send it to "sfu"', msg.type)
            return [ToSfu(person.id, msg)]
        kind = msg.type
        if person is None or kind == "join":
            return _error(connection, "not_in_room", "join a room first", kind)
        if kind == "leave":
            return self._forget(person)
        if kind == "decline":
            return _error(connection, "invalid_message", "decline is not used in group rooms", kind)
        if kind in MODERATOR_ONLY:
            if not (person.moderator and person.in_call):
                return _error(connection, "forbidden", "only a moderator may do that", kind)
            return self._moderate(person, connection, msg)
        if not person.in_call:
            return _error(connection, "forbidden", "wait until you are admitted", kind)
        return self._own(person, msg)

    def _own(self, person: Member, msg: p.ClientMessage) -> list[Effect]:
        """A participant's own state, or their chat line."""
        if isinstance(msg, p.Media):
            person.audio, person.video = msg.audio, msg.video
            return self._to_others(person, p.MediaState(person.id, msg.audio, msg.video)) + self._sync()
        if isinstance(msg, p.Screen):
            person.screen = msg.on
            return self._to_others(person, p.ScreenState(person.id, msg.on))
        if isinstance(msg, p.Hand):
            person.hand = msg.raised
            return self._to_others(person, p.HandState(person.id, msg.raised))
        if isinstance(msg, p.Chat):
            return self._to_others(person, p.ChatLine(person.id, person.name, msg.text, iso(self.clock())))
        raise AssertionError(f"unhandled message type {msg.type}")

    def _to_others(self, person: Member, message: p.ServerMessage) -> list[Effect]:
        others = connections_of(self._in_call(besides=person))
        return [Send(others, message)] if others else []

    # -- moderation ------------------------------------------------------------------------------------------

    def _moderate(self, moderator: Member, connection: str, msg: p.ClientMessage) -> list[Effect]:
        if isinstance(msg, p.End):
            return self._end(moderator.key)
        if isinstance(msg, p.Lock):
            return self._lock(msg.locked)
        if isinstance(msg, p.Admit):
            target = self._by_id.get(msg.id)
            if target is None or not target.waiting:
                return _error(connection, "no_such_peer", "nobody by that id is waiting", msg.type)
            target.admitted = True
            return self._enter(target, admitted=True) + self._lobby()
        if isinstance(msg, p.Mute | p.StopVideo | p.Remove):
            target = self._by_id.get(msg.id)
            if target is None or target is moderator or not target.in_call or target.connection is None:
                return _error(connection, "no_such_peer", "nobody else by that id is in the call", msg.type)
            if isinstance(msg, p.Remove):
                return self._remove(target, connection)
            return self._silence(moderator, target, "mute" if isinstance(msg, p.Mute) else "stop_video")
        raise AssertionError(f"not a moderator action: {msg.type}")

    def _silence(self, moderator: Member, target: Member, action: p.ModeratorAction) -> list[Effect]:
        """Stop forwarding the target's audio or camera until they turn it on again themselves."""
        assert target.connection is not None
        if not (target.audio if action == "mute" else target.video):
            return []
        if action == "mute":
            target.audio = False
        else:
            target.video = False
        effects: list[Effect] = [
            Send((target.connection,), p.Moderated(action, moderator.id)),
            Send(connections_of(self._rank), p.MediaState(target.id, target.audio, target.video)),
        ]
        return effects + self._sync()

    def _remove(self, target: Member, connection: str) -> list[Effect]:
        if target.moderator:
            return _error(connection, "forbidden", "a moderator cannot be removed", "remove")
        assert target.connection is not None
        goodbye: list[Effect] = [Send((target.connection,), p.Removed()), Close(target.connection, CLOSE_REMOVED)]
        effects = goodbye + self._detach(target)
        target.admitted = False  # waits to be admitted if they come back while the room is locked
        return effects

    def _lock(self, locked: bool) -> list[Effect]:
        """Lock or unlock the room; unlocking lets everyone waiting in, longest waiting first."""
        if locked == self.locked:
            return []
        self.locked = locked
        effects: list[Effect] = [Send(self.connections, p.Locked(locked))]
        if not locked:
            waiting = sorted(self._waiting(), key=lambda x: x.since or 0)
            for person in waiting:
                person.admitted = True
                effects += self._enter(person, admitted=True)
            if waiting:
                effects += self._lobby()
        return effects

    def _end(self, actor: str) -> list[Effect]:
        """End the meeting: the register, ``ended`` to everyone, every connection closed."""
        everyone = self._end_all()
        now = self.clock()
        effects: list[Effect] = [MeetingEnded(self.id, actor)]
        effects += [Attendance(self.id, x.key, x.name, "left", now) for x in self._rank]
        effects.append(Send(everyone, p.Ended("moderator_ended")))
        effects += [Close(c, CLOSE_NORMAL, "ended") for c in everyone]
        self._rank.clear()
        self._table, self._shown = {}, {}
        return effects

    # -- what the SFU reports --------------------------------------------------------------------------------

    def publishing(self, participant: str, source: Source, on: bool) -> list[Effect]:
        """``participant``'s feed of ``source`` started or stopped arriving at the SFU."""
        person = self._by_id.get(participant)
        if person is None or not person.in_call or (source in person.published) == on:
            return []
        if on:
            person.published.add(source)
        else:
            person.published.discard(source)
        return self._sync()

    def speaking(self, participant: str, level: int) -> list[Effect]:
        """``participant``'s audio level (-dBov); the ranking changes when someone not active starts speaking."""
        person = self._by_id.get(participant)
        if person is None or not person.in_call or not person.audio or level > SPEECH_LEVEL:
            return []
        was_active = person.spoke and any(x is person for x in self._rank[: self.last_n])
        person.spoke = self._tick()
        if was_active:
            return []
        self._rank.sort(key=lambda x: (0, -x.spoke) if x.spoke else (1, x.entered))
        return self._sync()

    # -- the forwarding table and the speakers ---------------------------------------------------------------

    def _view(self, subscriber: Member) -> tuple[frozenset[Feed], tuple[str, ...]]:
        """The feeds ``subscriber`` receives, and the others whose camera is on but paused for it."""
        feeds: set[Feed] = set()
        cameras: list[str] = []
        for x in self._rank:
            if x is subscriber:
                continue
            if "audio" in x.published and x.audio:
                feeds.add(Feed(x.id, "audio"))
            if "screen" in x.published:
                feeds.add(Feed(x.id, "screen"))
            if "camera" in x.published and x.video:
                cameras.append(x.id)
        feeds.update(Feed(x, "camera") for x in cameras[: self.last_n])
        return frozenset(feeds), tuple(cameras[self.last_n :])

    def _sync(self) -> list[Effect]:
        """The table if it changed, then ``speakers`` to each participant whose view of them changed."""
        active = tuple(x.id for x in self._rank[: self.last_n] if x.spoke)
        table: dict[str, frozenset[Feed]] = {}
        speakers: list[Effect] = []
        for x in self._rank:
            table[x.id], paused = self._view(x)
            message = p.Speakers(active, paused)
            if self._shown.get(x.id, _NO_SPEAKERS) != message and x.connection is not None:
                self._shown[x.id] = message
                speakers.append(Send((x.connection,), message))
        if table == self._table:
            return speakers
        self._table = table
        return [Route(table), *speakers]
