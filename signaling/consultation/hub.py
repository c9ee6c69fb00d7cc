"""The consultation hub: ``GET /ws``, the glue between sockets, 1:1 rooms and the bus.

The socket's life (handshake, caps, the read loop, shutdown) is the shared :class:`~signaling.sockets.SocketHub`'s;
each socket has a writer task (:mod:`signaling.connection`). Frames within the rate limit are parsed into typed
messages (:mod:`signaling.protocol`), handed to the pure room state machine (:mod:`signaling.consultation.room`),
and the effects it returns are published on the bus (:mod:`signaling.bus`), whose subscriber delivers them to the
sockets of this process. Logs carry event names, room ids and close codes only: never chat text, SDP, names or tokens.
"""

from __future__ import annotations

import logging

from aiohttp import web

from server import consultations
from server.errors import Forbidden, NotFound
from server.identity import Identity, RoomEnded, grant
from server.keys import sessionmaker_key
from signaling import protocol as p
from signaling.bus import Bus, InProcessBus, Subscription
from signaling.connection import Connection, send_error
from signaling.consultation.room import Effect, MarkEnded, Room
from signaling.effects import Close, Send
from signaling.sockets import SocketHub, add_endpoint

log = logging.getLogger(__name__)


class Hub(SocketHub):
    """Every consultation socket and room of this process. Created in the cleanup context (:func:`setup_hub`)."""

    path = p.CONSULTATION

    def __init__(self, app: web.Application, bus: Bus) -> None:
        super().__init__(app)
        self._bus = bus
        self._rooms: dict[str, Room] = {}
        self._subscriptions: dict[str, Subscription] = {}

    async def on_detach(self, conn: Connection) -> None:
        room = self._rooms.get(conn.room) if conn.room else None
        conn.room = None
        if room is not None:
            await self._execute(room, room.disconnect(conn.id))
            await self._forget_if_idle(room)

    # -- messages --------------------------------------------------------------------------------------------

    async def on_message(self, conn: Connection, msg: p.ClientMessage) -> None:
        """One message: the room's policy and its effects.

        This is the hot path (every relayed offer, answer and candidate), hence one coroutine rather than several.
        """
        if msg.type == "join":
            await self._join(conn, msg)
            return
        room = self._rooms.get(conn.room) if conn.room else None
        if room is None:
            send_error(conn, "not_in_room", "join a room first", msg.type)
            return
        effects = room.handle(conn.id, msg)
        if msg.type == "leave":
            conn.room = None
        publish = self._bus.publish
        for effect in effects:  # as _execute does, without a further coroutine on the hot path
            if isinstance(effect, (Send, Close)):
                await publish(room.id, effect)
            else:
                await self._mark_ended(effect)
        if room.idle:
            await self._forget_if_idle(room)

    async def _join(self, conn: Connection, msg: p.Join) -> None:
        if conn.room is not None:
            send_error(conn, "invalid_message", "this socket is already in a room; send leave first", "join")
            return
        role_and_name = await self._grant(conn.identity, msg.room)
        if isinstance(role_and_name, str):
            send_error(conn, role_and_name, _GRANT_ERRORS[role_and_name], "join")
            return
        if conn.closing or conn.id not in self._connections:
            return
        room = await self._open_room(msg.room)
        conn.room = room.id
        log.info("signaling join", extra={"event": "ws_join", "room": room.id})
        await self._execute(room, room.join(conn.id, conn.identity.key, *role_and_name))

    async def _grant(self, identity: Identity, room_id: str) -> tuple[p.Role, str] | str:
        """The role and name the server grants in that room, or the error code refusing it."""
        try:
            granted = await grant(self._app, identity, room_id)
        except NotFound:
            return "room_not_found"
        except Forbidden:
            return "forbidden"
        except RoomEnded:
            return "room_ended"
        return granted.role, granted.name

    # -- rooms and the bus -----------------------------------------------------------------------------------

    async def _open_room(self, room_id: str) -> Room:
        """The room, created and subscribed to on the bus the first time someone joins it here."""
        room = self._rooms.get(room_id)
        if room is not None:
            return room
        subscription = await self._bus.subscribe(room_id, self.deliver)  # to the sockets of this process
        room = self._rooms.get(room_id)  # someone else may have opened it meanwhile
        if room is not None:
            await subscription.cancel()
            return room
        room = self._rooms[room_id] = Room(room_id, ice_servers=self._settings.ice_servers)
        self._subscriptions[room_id] = subscription
        return room

    async def _forget_if_idle(self, room: Room) -> None:
        if room.idle and self._rooms.get(room.id) is room:
            del self._rooms[room.id]
            await self._subscriptions.pop(room.id).cancel()

    async def _execute(self, room: Room, effects: list[Effect]) -> None:
        """Carry out a room's effects in order: database writes here, messages and closes through the bus."""
        publish = self._bus.publish
        for effect in effects:
            if isinstance(effect, (Send, Close)):  # an exact match is quick; a miss (MarkEnded) costs ~0.1 us
                await publish(room.id, effect)
            else:
                await self._mark_ended(effect)

    async def _mark_ended(self, effect: MarkEnded) -> None:
        log.info("signaling room ended", extra={"event": "ws_end", "room": effect.room})
        await consultations.end_consultation(self._app[sessionmaker_key], effect.room, actor=effect.actor)

    # -- shutdown --------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop what is left (after :meth:`shutdown`): writer tasks, subscriptions, the bus."""
        await super().close()
        for subscription in self._subscriptions.values():
            await subscription.cancel()
        self._subscriptions.clear()
        self._rooms.clear()
        await self._bus.close()


hub_key = web.AppKey("hub", Hub)


_GRANT_ERRORS = {
    "room_not_found": "no such room",
    "forbidden": "you may not enter this room",
    "room_ended": "this session has ended",
}


def setup_hub(app: web.Application) -> None:
    """Add ``GET /ws`` (named "ws"), its hub (with an in-process bus) and the GOING_AWAY close at shutdown."""
    add_endpoint(app, Hub.path, "ws", hub_key, lambda app: Hub(app, InProcessBus()))
