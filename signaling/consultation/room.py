"""The 1:1 consultation room as a pure state machine: no I/O, no asyncio.

A :class:`Room` knows who is waiting in the lobby and who is in the call. Its participants
(:mod:`signaling.participants`, which group rooms use too) are keyed by their stable identity (``Identity.key``)
and shown to others under an opaque per-room id. Connections are opaque strings chosen by the hub. Every method
returns a list of *effects* (send this message to those connections, close that connection, mark the consultation
ended) that the hub carries out, in order.

Rules:

- the operator joins straight into the call; a citizen knocks and waits until the operator admits or declines;
- a second ``join`` by the same identity replaces the earlier connection (closed with 4000) and keeps the place;
- a dropped connection leaves the call (others get ``peer_left``) or disappears from the lobby, but the room
  remembers: someone who was in the call comes straight back in, a waiting citizen keeps their place in the queue;
- ``leave`` forgets the participant: they knock again as a newcomer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from msgspec import Struct

from signaling import protocol as p
from signaling.effects import CLOSE_NORMAL, Close, Send
from signaling.participants import Participant, Participants, connections_of, random_id, utcnow
from signaling.protocol.messages import iso


class MarkEnded(Struct, frozen=True):
    """Record that the consultation ``room`` was ended by ``actor`` (done before the effects that follow it)."""

    room: str
    actor: str


Effect = Send | Close | MarkEnded


def _not_admitted(connection: str, kind: str) -> list[Effect]:
    return [Send((connection,), p.Error("forbidden", "wait until you are admitted", kind))]


class Party(Participant):
    """The operator (the room's host) or the citizen."""

    __slots__ = ()

    @property
    def role(self) -> p.Role:
        return "operator" if self.host else "citizen"

    def peer(self) -> p.Peer:
        return p.Peer(self.id, self.role, self.name, self.audio, self.video)


class Room(Participants[Party, Effect]):
    """One consultation's room. ``ice_servers`` is handed to every participant in ``welcome``."""

    def __init__(
        self,
        id: str,
        ice_servers: tuple[p.IceServer, ...] = (),
        clock: Callable[[], datetime] = utcnow,
        new_id: Callable[[], str] = random_id,
    ) -> None:
        super().__init__(clock=clock, new_id=new_id)
        self.id = id
        self.ice_servers = ice_servers

    def _in_call(self, *, besides: Party | None = None) -> list[Party]:
        return [x for x in self._by_connection.values() if x.in_call and x is not besides]

    def _lobby(self) -> list[Effect]:
        """The waiting list, to every operator in the call."""
        return self._lobby_to(connections_of(x for x in self._in_call() if x.host))

    # -- entering and leaving --------------------------------------------------------------------------------

    def join(self, connection: str, key: str, role: p.Role, name: str) -> list[Effect]:
        """``connection`` joins as the person ``key`` with the ``role`` the server granted."""
        if self.ended:
            return [Send((connection,), p.Error("room_ended", "this session has ended", "join"))]
        person, effects = self._arrive(
            connection, key, lambda id: Party(id, key, name, role == "operator"), self._detach
        )
        return effects + (self._enter_call(person) if person.in_call else self._knock(person))

    def _enter_call(self, person: Party) -> list[Effect]:
        assert person.connection is not None
        others = self._in_call(besides=person)
        welcome = p.Welcome(
            person.id, person.role, self.id, "in_call", tuple(x.peer() for x in others), self.ice_servers
        )
        effects: list[Effect] = [Send((person.connection,), welcome)]
        if person.host:
            effects += self._lobby()
        if others:
            effects.append(Send(connections_of(others), p.PeerJoined(person.id, person.role, person.name)))
        return effects

    def _knock(self, person: Party) -> list[Effect]:
        assert person.connection is not None
        if person.since is None:
            person.since = self.clock()
        welcome = p.Welcome(person.id, person.role, self.id, "waiting", (), self.ice_servers)
        return [Send((person.connection,), welcome), *self._lobby()]

    def _detach(self, person: Party) -> list[Effect]:
        was_in_call, was_waiting = person.in_call, person.waiting
        self._drop(person)
        if was_in_call:
            others = self._in_call()
            return [Send(connections_of(others), p.PeerLeft(person.id))] if others else []
        return self._lobby() if was_waiting else []

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

    def _moderate(self, person: Party, connection: str, msg: p.ClientMessage) -> list[Effect]:
        if not person.host:
            return [Send((connection,), p.Error("forbidden", "only the operator may do that", msg.type))]
        if msg.type == "end":
            return self._end(person.key)
        if msg.type == "admit":
            return self._admit(connection, msg)
        if msg.type == "decline":
            return self._decline(connection, msg)
        raise AssertionError(f"not a moderator action: {msg.type}")

    def _to_others(self, person: Party, message: p.ServerMessage) -> list[Effect]:
        others = connections_of(self._in_call(besides=person))
        return [Send(others, message)] if others else []

    def _relay(self, person: Party, connection: str, msg: p.Relayed) -> list[Effect]:
        target = self._by_id.get(msg.to)
        if target is None or target is person or not target.in_call or target.connection is None:
            return [Send((connection,), p.Error("no_such_peer", "nobody by that id is in the call", msg.type))]
        return [Send((target.connection,), p.Relay(person.id, msg))]

    def _waiting_target(self, connection: str, msg: p.Admit | p.Decline) -> Party | list[Effect]:
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
        effects.append(Send(connections_of(others), p.PeerJoined(target.id, target.role, target.name)))
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
        everyone = self._end_all()
        effects: list[Effect] = [MarkEnded(self.id, actor), Send(everyone, p.Ended())]
        return effects + [Close(c, CLOSE_NORMAL, "ended") for c in everyone]
