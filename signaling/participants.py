"""Who is in a room, whatever its kind: the participant registry both room state machines are built on.

A participant is keyed by their stable identity (``Identity.key``) and shown to the others under an opaque
per-room id; their connection is an opaque string chosen by the hub. :class:`Participants`, which both room kinds
extend, keeps the three indexes (by identity key, by id, by open connection) together and holds the rules both kinds
share:

- the host (the operator of a consultation, a moderator of a group room) is in the call whenever connected; anyone
  else is in the call once ``admitted``, and until then waits (the waiting list is sent as ``lobby``, oldest
  first);
- a second ``join`` by the same identity replaces the earlier connection (closed with 4000) and keeps the place;
- a dropped connection is forgotten but the person is remembered (same id, same place) until they leave; a socket
  that closes after the room ended is only forgotten. When the hub forgets an idle room, the next ``join`` opens a
  new one: the ids then change.

Like the rooms, it does no I/O: it returns the effects (:mod:`signaling.effects`) a room hands to its hub. The
indexes are plain attributes of the room, since the relay reads them for every frame.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from signaling import protocol as p
from signaling.effects import CLOSE_REPLACED, Close, Send
from signaling.protocol.messages import iso


def random_id() -> str:
    """A participant id: opaque, short, unguessable."""
    return secrets.token_urlsafe(6)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True, eq=False)
class Participant:
    """Someone who joined a room. ``connection`` is None while they are away."""

    id: str
    key: str
    name: str
    host: bool  # the operator, or a moderator: always in the call, sees the waiting list
    connection: str | None = None
    admitted: bool = False  # may be in the call (was let in, or entered); kept across reconnects
    since: datetime | None = None  # when they started waiting
    audio: bool = True
    video: bool = True

    @property
    def in_call(self) -> bool:
        return self.connection is not None and (self.admitted or self.host)

    @property
    def waiting(self) -> bool:
        return self.connection is not None and not (self.admitted or self.host)


P = TypeVar("P", bound=Participant)
E = TypeVar("E")


def connections_of(people: Iterable[Participant]) -> tuple[str, ...]:
    """The open connections of ``people``, in their order."""
    return tuple(x.connection for x in people if x.connection is not None)


class Participants(Generic[P, E]):
    """The participants of one room, each a ``P``; a room kind extends it with its policy, whose effects are ``E``
    (and implements :meth:`_detach`). ``clock`` dates the waiting list, ``new_id`` makes participant ids."""

    def __init__(self, *, clock: Callable[[], datetime], new_id: Callable[[], str]) -> None:
        self.clock = clock
        self.new_id = new_id
        self.ended = False
        self._by_key: dict[str, P] = {}
        self._by_id: dict[str, P] = {}
        self._by_connection: dict[str, P] = {}  # in the order they connected

    # -- queries ---------------------------------------------------------------------------------------------

    @property
    def connections(self) -> tuple[str, ...]:
        """Every open connection in the room."""
        return tuple(self._by_connection)

    @property
    def idle(self) -> bool:
        """Nobody is connected: the hub may forget the room."""
        return not self._by_connection

    def participant(self, connection: str) -> P | None:
        """Who is on ``connection``."""
        return self._by_connection.get(connection)

    def _lobby_to(self, to: tuple[str, ...]) -> list[E | Send]:
        """The waiting list, longest waiting first, as a ``lobby`` message to the connections ``to`` (if any)."""
        if not to:
            return []
        waiting = sorted(self._waiting(), key=lambda x: x.since or self.clock())
        entries = tuple(p.Waiting(x.id, x.name, iso(x.since or self.clock())) for x in waiting)
        return [Send(to, p.Lobby(entries))]

    def _waiting(self) -> list[P]:
        """Those connected and waiting, in the order they connected."""
        return [x for x in self._by_connection.values() if x.waiting]

    # -- entering and leaving --------------------------------------------------------------------------------

    def _arrive(
        self, connection: str, key: str, make: Callable[[str], P], detach: Callable[[P], list[E]]
    ) -> tuple[P, list[E | Close]]:
        """``connection`` is now the person ``key``'s, who is made with a fresh id (``make(id)``) the first time.
        If their earlier connection is still open it is replaced: first ``detach(person)`` (which takes it out of
        the room and says what the others see), then its close with 4000."""
        person = self._by_key.get(key)
        effects: list[E | Close] = []
        if person is None:
            person = make(self.new_id())
            self._by_key[key] = self._by_id[person.id] = person
        elif person.connection is not None:
            old = person.connection
            effects += detach(person)
            effects.append(Close(old, CLOSE_REPLACED, "replaced"))
        person.connection = connection
        self._by_connection[connection] = person
        return person, effects

    def _detach(self, person: P) -> list[E]:
        """Take the person's connection out of the room (:meth:`_drop`) and say what the others now see."""
        raise NotImplementedError

    def _drop(self, person: P) -> None:
        """Take the person's connection out of the room; they are remembered."""
        if person.connection is not None:
            self._by_connection.pop(person.connection, None)
        person.connection = None

    def disconnect(self, connection: str) -> list[E]:
        """The socket closed. Remember the person so that they can come back to the same place."""
        person = self._by_connection.get(connection)
        if person is None or self.ended:
            self._by_connection.pop(connection, None)
            return []
        return self._detach(person)

    def _forget(self, person: P) -> list[E]:
        """The person leaves for good: they would come back as a newcomer, under a new id."""
        effects = self._detach(person)
        del self._by_key[person.key], self._by_id[person.id]
        return effects

    def _end_all(self) -> tuple[str, ...]:
        """The room ended: every connection is dropped. Returns those that were open, in their order."""
        self.ended = True
        everyone = self.connections
        for person in self._by_key.values():
            person.connection = None
        self._by_connection.clear()
        return everyone
