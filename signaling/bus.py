"""The message bus: room events published by room, delivered to every subscriber of that room.

The hub publishes the effects a room produces (:class:`signaling.effects.Send` and :class:`signaling.effects.Close`)
on the room's topic and delivers the ones addressed to its own sockets. With one process the
:class:`InProcessBus` calls the subscribers directly, without copying or encoding anything. A Redis bus can
implement the same interface (encoding events with :func:`signaling.protocol.serialise`) so that sockets of one
room may live on several processes, without the room logic changing.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from signaling.effects import Close, Send

Event = Send | Close
Handler = Callable[[Event], None]


class Subscription(abc.ABC):
    """A handle on one subscription; :meth:`cancel` stops the deliveries."""

    @abc.abstractmethod
    async def cancel(self) -> None: ...


class Bus(abc.ABC):
    """Publish / subscribe by room. Handlers are plain callables and must not block."""

    @abc.abstractmethod
    async def publish(self, room: str, event: Event) -> None:
        """Deliver ``event`` to every current subscriber of ``room`` (in publishing order per room)."""

    @abc.abstractmethod
    async def subscribe(self, room: str, handler: Handler) -> Subscription:
        """Call ``handler(event)`` for every event later published on ``room``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Drop every subscription and release the bus's resources."""


class _InProcessSubscription(Subscription):
    __slots__ = ("_bus", "_handler", "_room")

    def __init__(self, bus: InProcessBus, room: str, handler: Handler) -> None:
        self._bus, self._room, self._handler = bus, room, handler

    async def cancel(self) -> None:
        self._bus._remove(self._room, self._handler)


class InProcessBus(Bus):
    """Every subscriber lives in this process: ``publish`` calls the handlers synchronously, in order."""

    def __init__(self) -> None:
        # Tuples, replaced rather than changed: a handler may unsubscribe while ``publish`` goes through them.
        self._subscribers: dict[str, tuple[Handler, ...]] = {}

    async def publish(self, room: str, event: Event) -> None:
        # No await inside: publishing costs a dictionary look-up and never switches tasks.
        for handler in self._subscribers.get(room, ()):
            handler(event)

    async def subscribe(self, room: str, handler: Handler) -> Subscription:
        self._subscribers[room] = (*self._subscribers.get(room, ()), handler)
        return _InProcessSubscription(self, room, handler)

    def _remove(self, room: str, handler: Handler) -> None:
        handlers = self._subscribers.get(room, ())
        if handler not in handlers:
            return
        index = handlers.index(handler)
        rest = handlers[:index] + handlers[index + 1 :]
        if rest:
            self._subscribers[room] = rest
        else:
            del self._subscribers[room]

    def subscriber_count(self, room: str) -> int:
        return len(self._subscribers.get(room, ()))

    async def close(self) -> None:
        self._subscribers.clear()
