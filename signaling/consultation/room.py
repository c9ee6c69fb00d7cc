"""The 1:1 consultation room as a pure state machine: no I/O, no asyncio.

A :class:`Room` knows who is waiting in the lobby and who is in the call. Participants are keyed by their stable
identity (``Identity.key``) and shown to others under an opaque per-room id. Connections are opaque strings chosen
by the hub. Every method returns a list of *effects* (send this message to those connections, close that
connection, mark the consultation ended) that the hub carries out, in order.

Rules:

- the operator joins straight into the call; a citizen knocks and waits until the operator admits or declines;
- a second ``join`` by the same identity replaces the earlier connection (closed with 4000) and keeps the place;
- a dropped connection leaves the call (others get ``peer_left``) or disappears from the lobby, but the room
  remembers: someone who was in the call comes straight back in, a waiting citizen keeps their place in the queue;
- ``leave`` forgets the participant: they knock again as a newcomer.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from msgspec import Struct

from signaling import protocol as p
from signaling.effects import CLOSE_NORMAL, CLOSE_REPLACED, Close, Send
from signaling.protocol.messages import iso


class MarkEnded(Struct, frozen=True):
    """Record that the consultation ``room`` was ended by ``actor`` (done before the effects that follow it)."""

    room: str
    actor: str


Effect = Send | Close | MarkEnded


def _new_id() -> str:
    return secrets.token_urlsafe(6)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _not_admitted(connection: str, kind: str) -> list[Effect]:
    return [Send((connection,), p.Error("forbidden", "wait until you are admitted", kind))]


@dataclass(slots=True)
class Participant:
    id: str
    key: str
    role: p.Role
    name: str
    connection: str | None = None
    admitted: bool = False  # in the call, or was when their connection dropped
    since: datetime | None = None  # when a citizen first knocked; kept across reconnects
    audio: bool = True
    video: bool = True

    @property
    def in_call(self) -> bool:
        return self.connection is not None and (self.admitted or self.role == "operator")

    @property
    def waiting(self) -> bool:
        return self.connection is not None and not self.admitted and self.role == "citizen"

    def peer(self) -> p.Peer:
        return p.Peer(self.id, self.role, self.name, self.audio, self.video)


@dataclass
class Room:
    """One consultation's room. ``ice_servers`` is handed to every participant in ``welcome``."""

    id: str
    ice_servers: tuple[Mapping[str, Any], ...] = ()
    clock: Callable[[], datetime] = _utcnow
    new_id: Callable[[], str] = _new_id
    ended: bool = False
    _by_key: dict[str, Participant] = field(default_factory=dict)
    _by_connection: dict[str, Participant] = field(default_factory=dict)
    _by_id: dict[str, Participant] = field(default_factory=dict)

    # -- queries ---------------------------------------------------------------------------------------------

    @property
    def connections(self) -> tuple[str, ...]:
        """Every open connection in the room."""
        return tuple(self._by_connection)

    @property
    def idle(self) -> bool:
        """Nobody is connected: the hub may forget the room."""
        return not self._by_connection

    def participant(self, connection: str) -> Participant | None:
        return self._by_connection.get(connection)

    def _in_call(self, *, besides: Participant | None = None) -> list[Participant]:
        return [x for x in self._by_connection.values() if x.in_call and x is not besides]

    def _conns(self, people: Iterable[Participant]) -> tuple[str, ...]:
        return tuple(x.connection for x in people if x.connection is not None)

    def _lobby(self) -> list[Effect]:
        """The waiting list, to every operator in the call."""
        operators = self._conns(x for x in self._in_call() if x.role == "operator")
        if not operators:
            return []
        waiting = sorted((x for x in self._by_connection.values() if x.waiting), key=lambda x: x.since or self.clock())
        entries = tuple(p.Waiting(x.id, x.name, iso(x.since or self.clock())) for x in waiting)
        return [Send(operators, p.Lobby(entries))]

    # -- entering and leaving --------------------------------------------------------------------------------

    def join(self, connection: str, key: str, role: p.Role, name: str) -> list[Effect]:
        """``connection`` joins as the person ``key`` with the ``role`` the server granted."""
        if self.ended:
            return [Send((connection,), p.Error("room_ended", "this session has ended", "join"))]
        person = self._by_key.get(key)
        effects: list[Effect] = []
        if person is None:
            person = Participant(self.new_id(), key, role, name)
            self._by_key[key] = person
            self._by_id[person.id] = person
        elif person.connection is not None:
            old = person.connection
            effects += self._detach(person)
            effects.append(Close(old, CLOSE_REPLACED, "replaced"))
        person.connection = connection
        self._by_connection[connection] = person
        return effects + (self._enter_call(person) if person.in_call else self._knock(person))

    def _enter_call(self, person: Participant) -> list[Effect]:
        assert person.connection is not None
        others = self._in_call(besides=person)
        welcome = p.Welcome(
            person.id, person.role, self.id, "in_call", tuple(x.peer() for x in others), self.ice_servers
        )
        effects: list[Effect] = [Send((person.connection,), welcome)]
        if person.role == "operator":
            effects += self._lobby()
        if others:
            effects.append(Send(self._conns(others), p.PeerJoined(person.id, person.role, person.name)))
        return effects

    def _knock(self, person: Participant) -> list[Effect]:
        assert person.connection is not None
        if person.since is None:
            person.since = self.clock()
        welcome = p.Welcome(person.id, person.role, self.id, "waiting", (), self.ice_servers)
        return [Send((person.connection,), welcome), *self._lobby()]

    def _detach(self, person: Participant) -> list[Effect]:
        """Take the person's connection out of the room and tell the others what they now see."""
        was_in_call, was_waiting = person.in_call, person.waiting
        if person.connection is not None:
            self._by_connection.pop(person.connection, None)
        person.connection = None
        if was_in_call:
            others = self._in_call()
            return [Send(self._conns(others), p.PeerLeft(person.id))] if others else []
        return self._lobby() if was_waiting else []

    def disconnect(self, connection: str) -> list[Effect]:
        """The socket closed. Remember the person so that they can come back to the same place."""
        person = self._by_connection.get(connection)
        if person is None or self.ended:
            self._by_connection.pop(connection, None)
            return []
        return self._detach(person)

    def _forget(self, person: Participant) -> list[Effect]:
        effects = self._detach(person)
        del self._by_key[person.key]
        del self._by_id[person.id]
        return effects

    # -- messages from a participant -------------------------------------------------------------------------

    def handle(self, connection: str, msg: p.ClientMessage) -> list[Effect]:
        """A message from a connection that has joined this room (``join`` itself goes to :meth:`join`)."""
        person = self._by_connection.get(connection)
        if isinstance(msg, p.RELAYED) and person is not None:
            # Most of the traffic, so looked at first; the same rule as for media and chat below.
            return self._relay(person, connection, msg) if person.in_call else _not_admitted(connection, msg.type)
        kind = msg.type
        if person is None or kind == "join":
            return [Send((connection,), p.Error("not_in_room", "join a room first", kind))]
        if kind == "leave":
            return self._forget(person)
        if kind == "admit" or kind == "decline" or kind == "end":
            return self._moderate(person, connection, msg)
        if not person.in_call:
            return _not_admitted(connection, kind)
        if msg.type == "media":
            person.audio, person.video = msg.audio, msg.video
            return self._to_others(person, p.MediaState(person.id, msg.audio, msg.video))
        if msg.type == "chat":
            return self._to_others(person, p.ChatLine(person.id, person.name, msg.text, iso(self.clock())))
        # A group room's message (hand, mute, lock...): parsed by the shared decoder, meaningless here.
        return [Send((connection,), p.Error("unknown_type", "not a message of consultation rooms", kind))]

    def _moderate(self, person: Participant, connection: str, msg: p.ClientMessage) -> list[Effect]:
        if person.role != "operator":
            return [Send((connection,), p.Error("forbidden", "only the operator may do that", msg.type))]
        if msg.type == "end":
            return self._end(person.key)
        if msg.type == "admit":
            return self._admit(connection, msg)
        if msg.type == "decline":
            return self._decline(connection, msg)
        raise AssertionError(f"not a moderator action: {msg.type}")

    def _to_others(self, person: Participant, message: p.ServerMessage) -> list[Effect]:
        others = self._conns(self._in_call(besides=person))
        return [Send(others, message)] if others else []

    def _relay(self, person: Participant, connection: str, msg: p.Relayed) -> list[Effect]:
        target = self._by_id.get(msg.to)
        if target is None or target is person or not target.in_call or target.connection is None:
            return [Send((connection,), p.Error("no_such_peer", "nobody by that id is in the call", msg.type))]
        return [Send((target.connection,), p.Relay(person.id, msg))]

    def _waiting_target(self, connection: str, msg: p.Admit | p.Decline) -> Participant | list[Effect]:
        target = self._by_id.get(msg.id)
        if target is None or not target.waiting:
            return [Send((connection,), p.Error("no_such_peer", "nobody by that id is waiting", msg.type))]
        return target

    def _admit(self, connection: str, msg: p.Admit) -> list[Effect]:
        target = self._waiting_target(connection, msg)
        if isinstance(target, list):
            return target
        assert target.connection is not None
        target.admitted, target.since = True, None
        others = self._in_call(besides=target)
        effects: list[Effect] = [Send((target.connection,), p.Admitted(tuple(x.peer() for x in others)))]
        effects += self._lobby()
        effects.append(Send(self._conns(others), p.PeerJoined(target.id, target.role, target.name)))
        return effects

    def _decline(self, connection: str, msg: p.Decline) -> list[Effect]:
        target = self._waiting_target(connection, msg)
        if isinstance(target, list):
            return target
        assert target.connection is not None
        goodbye: list[Effect] = [Send((target.connection,), p.Declined()), Close(target.connection, CLOSE_NORMAL)]
        return goodbye + self._forget(target)

    def _end(self, actor: str) -> list[Effect]:
        """Mark the consultation ended, tell everyone (the operator too) and close every connection."""
        self.ended = True
        everyone = self.connections
        effects: list[Effect] = [MarkEnded(self.id, actor), Send(everyone, p.Ended())]
        effects += [Close(c, CLOSE_NORMAL, "ended") for c in everyone]
        for person in self._by_key.values():
            person.connection = None
        self._by_connection.clear()
        return effects
