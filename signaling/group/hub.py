"""``GET /ws/group``: the socket of group supervision rooms, and the glue between sockets, the pure
:class:`~signaling.group.room.GroupRoom` and the SFU (:mod:`signaling.sfu`).

The socket's life (handshake, caps, read loop, shutdown) is the shared :class:`~signaling.sockets.SocketHub`'s.
Rooms are staff-only: a citizen cookie is refused at the handshake (403). A group room lives in the process that
holds its media (the embedded SFU), so its messages go straight to the sockets of this process rather than through
the bus. What the SFU must tell a client (SDP, candidates, which transceiver carries whom) is sent at once, in
order; what it tells the room (feeds starting and stopping, audio levels) goes through the room, whose forwarding
table is then applied by one updater task per room that always applies the latest table, so tables computed
concurrently can never be applied out of order. Database writes (the attendance register, ending a meeting) go
through one writer task, in order. Logs carry event names, room ids and close codes only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiohttp import web

from server import actors, supervision
from server.errors import Forbidden, NotFound
from server.identity import Identity
from server.keys import sessionmaker_key, settings_key
from signaling import protocol as p
from signaling.connection import Connection, send_error
from signaling.effects import Close, Send
from signaling.group.room import GroupRoom
from signaling.group.values import Attendance, Effect, MeetingEnded, Route, SfuJoin, SfuLeave, ToSfu
from signaling.sfu import (
    CandidateOut,
    EventHandler,
    NegotiationBusy,
    Publishing,
    SdpOut,
    Sfu,
    SfuError,
    SfuEvent,
    Speaking,
    TracksOut,
)
from signaling.sfu.embedded import EmbeddedSfu
from signaling.sockets import SocketHub, add_endpoint

log = logging.getLogger(__name__)

_GRANT_ERRORS = {
    "room_not_found": "no such room",
    "forbidden": "you are not invited to this room",
    "room_ended": "this meeting is over",
}


def _parse(text: str) -> p.ClientMessage:
    """A frame of ``/ws/group``: only the messages group rooms use (:data:`signaling.protocol.GROUP_TYPES`)."""
    msg = p.parse(text)
    if msg.type not in p.GROUP_TYPES:
        raise p.ProtocolError("unknown_type", "not a message of group rooms", msg.type)
    return msg


@dataclass
class _Open:
    """A room of this process and its SFU updater."""

    room: GroupRoom
    dirty: bool = False  # the forwarding table changed since the updater last applied it
    updater: asyncio.Task[None] | None = None


class GroupHub(SocketHub):
    """Every group socket and room of this process. Created in the cleanup context (:func:`setup_group_hub`)."""

    staff_only = True
    path = p.GROUP

    def __init__(self, app: web.Application, sfu: Sfu) -> None:
        super().__init__(app)
        self._sfu = sfu
        self._rooms: dict[str, _Open] = {}
        self._writes: asyncio.Queue[Attendance | MeetingEnded | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="group-hub-writer")

    @property
    def sfu(self) -> Sfu:
        return self._sfu

    def room(self, room_id: str) -> GroupRoom | None:
        """The room open in this process under that id, if any (for tests and diagnostics)."""
        opened = self._rooms.get(room_id)
        return opened.room if opened is not None else None

    # -- the socket's life -----------------------------------------------------------------------------------

    async def on_detach(self, conn: Connection) -> None:
        opened = self._rooms.get(conn.room) if conn.room else None
        conn.room = None
        if opened is not None:
            await self._execute(opened, opened.room.disconnect(conn.id))
            await self._forget_if_idle(opened)

    # -- messages --------------------------------------------------------------------------------------------

    parse = staticmethod(_parse)

    async def on_message(self, conn: Connection, msg: p.ClientMessage) -> None:
        if isinstance(msg, p.Join):
            await self._join(conn, msg)
            return
        opened = self._rooms.get(conn.room) if conn.room else None
        if opened is None:
            send_error(conn, "not_in_room", "join a room first", msg.type)
            return
        if isinstance(msg, p.Leave):
            conn.room = None
        await self._execute(opened, opened.room.handle(conn.id, msg))
        await self._forget_if_idle(opened)

    async def _join(self, conn: Connection, msg: p.Join) -> None:
        if conn.room is not None:
            send_error(conn, "invalid_message", "this socket is already in a room; send leave first", "join")
            return
        granted = await self._grant(conn.identity, msg.room)
        if isinstance(granted, str):
            send_error(conn, granted, _GRANT_ERRORS[granted], "join")
            return
        if conn.closing or conn.id not in self._connections:
            return
        opened = await self._open_room(msg.room)
        conn.room = msg.room
        log.info("group join", extra={"event": "ws_join", "room": msg.room})
        effects = opened.room.join(conn.id, conn.identity.key, granted.name, moderator=granted.moderator)
        await self._execute(opened, effects)

    async def _grant(self, identity: Identity, room_id: str) -> supervision.GroupGrant | str:
        assert identity.staff is not None
        try:
            return await supervision.grant(self._app[sessionmaker_key], identity.staff, room_id)
        except NotFound:
            return "room_not_found"
        except Forbidden:
            return "forbidden"
        except supervision.MeetingOver:
            return "room_ended"

    # -- rooms -----------------------------------------------------------------------------------------------

    async def _open_room(self, room_id: str) -> _Open:
        opened = self._rooms.get(room_id)
        if opened is None:
            room = GroupRoom(room_id, last_n=self._settings.sfu_last_n, ice_servers=self._settings.ice_servers)
            opened = self._rooms[room_id] = _Open(room)
            await self._sfu.create_room(room_id)
        return opened

    async def _forget_if_idle(self, opened: _Open) -> None:
        room = opened.room
        if room.idle and self._rooms.get(room.id) is opened:
            del self._rooms[room.id]
            if opened.updater is not None:
                opened.updater.cancel()
                await asyncio.gather(opened.updater, return_exceptions=True)
            await self._sfu.close_room(room.id)

    async def _execute(self, opened: _Open, effects: list[Effect]) -> None:
        """Carry out a room's effects in order (the SFU's and the database's work is awaited or queued)."""
        room = opened.room
        for effect in effects:
            if isinstance(effect, Send | Close):
                self.deliver(effect)
            elif isinstance(effect, Route):
                self._route_soon(opened)
            elif isinstance(effect, SfuJoin):
                await self._sfu.join(room.id, effect.participant, self._sfu_handler(opened, effect.participant))
            elif isinstance(effect, SfuLeave):
                await self._sfu.leave(room.id, effect.participant)
            elif isinstance(effect, ToSfu):
                await self._to_sfu(opened, effect)
            elif isinstance(effect, Attendance | MeetingEnded):
                self._writes.put_nowait(effect)
                if isinstance(effect, MeetingEnded):
                    await self._sfu.close_room(room.id)
            else:
                raise AssertionError(f"unknown effect {effect!r}")

    async def _to_sfu(self, opened: _Open, effect: ToSfu) -> None:
        msg, room = effect.message, opened.room
        try:
            if isinstance(msg, p.Candidate):
                await self._sfu.candidate(room.id, effect.participant, p.ice_init(msg.candidate))
            else:
                await self._sfu.signal(room.id, effect.participant, msg.type, msg.sdp)
        except SfuError as exc:
            conn = self._connection_of(opened, effect.participant)
            if conn is not None:
                send_error(conn, "invalid_message", str(exc), msg.type)

    def _connection_of(self, opened: _Open, participant: str) -> Connection | None:
        connection = opened.room.connection_of(participant)
        return self._connections.get(connection) if connection is not None else None

    # -- the SFU's side --------------------------------------------------------------------------------------

    def _sfu_handler(self, opened: _Open, participant: str) -> EventHandler:
        def handle(event: SfuEvent) -> None:
            if self._rooms.get(opened.room.id) is not opened:
                return  # the room was closed meanwhile
            if isinstance(event, Publishing | Speaking):
                if isinstance(event, Publishing):
                    effects = opened.room.publishing(event.participant, event.source, event.on)
                else:
                    effects = opened.room.speaking(event.participant, event.level)
                for effect in effects:
                    if isinstance(effect, Send):
                        self.deliver(effect)
                    elif isinstance(effect, Route):
                        self._route_soon(opened)
                return
            conn = self._connection_of(opened, participant)
            if conn is None:
                return
            if isinstance(event, SdpOut):
                conn.send(p.serialise(p.SfuSdp(kind=event.kind, sdp=event.sdp)))
            elif isinstance(event, CandidateOut):
                conn.send(p.serialise(p.SfuCandidate(candidate=event.candidate)))
            elif isinstance(event, TracksOut):
                tracks = tuple(p.Track(mid, feed.publisher, feed.source) for mid, feed in event.tracks)
                conn.send(p.serialise(p.Tracks(tracks)))
            elif isinstance(event, NegotiationBusy):
                send_error(conn, "negotiation_busy", "answer the SFU's offer, then offer again", "offer")

        return handle

    def _route_soon(self, opened: _Open) -> None:
        """Mark the room's table changed; one updater task per room applies the latest table until none is new."""
        opened.dirty = True
        if opened.updater is None or opened.updater.done():
            opened.updater = asyncio.create_task(self._update(opened), name=f"group-route-{opened.room.id}")

    async def _update(self, opened: _Open) -> None:
        while opened.dirty:
            opened.dirty = False
            try:
                await self._sfu.route(opened.room.id, opened.room.table)
            except Exception:
                log.exception("group routing failed", extra={"event": "sfu_route_failed", "room": opened.room.id})

    # -- the database ----------------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        sessionmaker = self._app[sessionmaker_key]
        while (item := await self._writes.get()) is not None:
            try:
                if isinstance(item, MeetingEnded):
                    await supervision.end_meeting(sessionmaker, item.room, item.actor)
                else:
                    staff_id = actors.staff_id(item.key)
                    assert staff_id is not None, "group sockets are staff only"
                    record = supervision.joined if item.event == "joined" else supervision.left
                    await record(sessionmaker, item.room, staff_id, item.at)
            except Exception:
                log.exception("group register write failed", extra={"event": "group_write_failed"})

    # -- shutdown --------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop what is left: writer tasks, updaters, the SFU; then finish the pending register writes."""
        await super().close()
        for opened in self._rooms.values():
            if opened.updater is not None:
                opened.updater.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await opened.updater
        self._rooms.clear()
        await self._sfu.close()
        self._writes.put_nowait(None)
        await self._writer


group_hub_key = web.AppKey("group_hub", GroupHub)


def setup_group_hub(app: web.Application) -> None:
    """Add ``GET /ws/group`` (named "ws_group"), its hub (with the embedded SFU) and the GOING_AWAY close at
    shutdown."""

    def make(app: web.Application) -> GroupHub:
        return GroupHub(app, EmbeddedSfu(ice_servers=app[settings_key].ice_servers))

    add_endpoint(app, GroupHub.path, "ws_group", group_hub_key, make)
