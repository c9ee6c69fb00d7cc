"""The socket base of ``/ws``, ``/ws/group`` and ``/ws/alerts``: what every signaling endpoint does alike.

:class:`SocketHub` holds the life of a socket: the handshake (Origin, identity, staff only, the endpoint's own
admission rule), the caps, registration, the read loop (rate limit, parsing, the error replies to an invalid message
and to one that failed, binary frames closed with 1003, error frames), detaching, and the 1001 GOING_AWAY close at
shutdown. A hub subclass keeps only what its messages do (:meth:`SocketHub.on_message`, with :attr:`SocketHub.parse`
if it accepts fewer than the protocol's) and what a socket leaves behind (:meth:`SocketHub.on_detach`).

One :class:`~signaling.caps.Sockets` registry per application counts the sockets of all three endpoints against
the caps and is what the revocation sweeper (:func:`sockets_ctx`) checks: every ``SWEEP_SECONDS`` it asks the
database, in a few batched queries (:func:`server.identity.standings`), whether the credential behind each open
socket still stands, and closes those that do not (4001, or 4000 for a citizen whose link was opened on another
device). The database is the one source of truth, so a logout or a revoked pass in any process is seen by all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import ClassVar, TypeVar

from aiohttp import WSMsgType, web

from server.client_address import client_address
from server.identity import Identity, Standing, identify, standings
from server.keys import sessionmaker_key, settings_key
from server.origins import origin_allowed
from server.periodic import running
from server.settings import Settings
from signaling import protocol as p
from signaling.caps import Sockets, sockets_key
from signaling.connection import CLOSE_GOING_AWAY, CLOSE_UNSUPPORTED, MAX_FRAME, Connection, refuse, send_error
from signaling.effects import CLOSE_REPLACED, Close, Send

log = logging.getLogger(__name__)

_MAX_MSG_SIZE = MAX_FRAME + 1  # aiohttp refuses a frame of max_msg_size itself: MAX_FRAME is allowed

CLOSE_SESSION_ENDED = 4001  # the staff session or the citizen pass behind the socket no longer stands
SWEEP_SECONDS = 0.5
_CLOSES = {
    Standing.REVOKED: (CLOSE_SESSION_ENDED, "session ended"),
    Standing.ENDED: (CLOSE_SESSION_ENDED, "session ended"),
    Standing.REPLACED: (CLOSE_REPLACED, "replaced"),
}

# Bound once: looking up an enum member (WSMsgType.TEXT) costs about 0.1 us a time on Python 3.11.
_TEXT, _BINARY, _ERROR = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.ERROR


async def handshake(request: web.Request, settings: Settings, *, staff_only: bool = False) -> Identity | web.Response:
    """Who opens this socket, or the refusal to answer before upgrading: 403 for a foreign Origin, 401 without a
    valid staff or citizen cookie, 403 for a citizen when ``staff_only``."""
    if not origin_allowed(settings, request.headers.get("Origin")):
        log.info("signaling handshake refused", extra={"event": "ws_origin_refused", "status": 403})
        return web.json_response({"error": "origin_not_allowed"}, status=403)
    identity = await identify(request)
    if identity is None:
        log.info("signaling handshake refused", extra={"event": "ws_not_authenticated", "status": 401})
        return web.json_response({"error": "not_authenticated"}, status=401)
    if staff_only and (identity.kind != "staff" or identity.staff is None):
        log.info("signaling handshake refused", extra={"event": "ws_staff_only", "status": 403})
        return web.json_response({"error": "staff_only"}, status=403)
    return identity


class SocketHub:
    """The sockets of one endpoint in this process. Subclasses set :attr:`path` (and :attr:`staff_only`) and
    implement :meth:`on_message`; :attr:`parse`, :meth:`admits` and :meth:`on_detach` are hooks, and
    :meth:`deliver` carries a room's messages and closes to the sockets."""

    staff_only: ClassVar[bool] = False
    # A text frame -> a message: the protocol's parser, or a stricter one. The ProtocolError it raises is answered
    # with an error frame, and the socket keeps serving. A plain function, called without a further coroutine.
    parse = staticmethod(p.parse)
    path: ClassVar[p.Socket]  # the endpoint's path (the protocol's name of the socket), in logs and routes

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._settings = app[settings_key]
        self._sockets = app[sockets_key]
        self._connections: dict[str, Connection] = {}

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # -- hooks -----------------------------------------------------------------------------------------------

    def admits(self, identity: Identity) -> web.Response | None:
        """This endpoint's own refusal of an authenticated identity (answered before upgrading), or None."""
        return None

    async def on_message(self, conn: Connection, msg: p.ClientMessage) -> None:
        """One message, parsed from a text frame within the rate limit. An exception is answered with
        ``server_error`` (and logged)."""
        raise NotImplementedError

    async def on_detach(self, conn: Connection) -> None:
        """The socket has closed and is no longer reachable through this hub: leave its room, if any."""

    # -- the socket's life -----------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The endpoint's handler: check before upgrading (Origin, identity, admission, caps), then serve the
        socket until it closes."""
        identity = await handshake(request, self._settings, staff_only=self.staff_only)
        if not isinstance(identity, Identity):
            return identity
        refusal = self.admits(identity)
        if refusal is not None:
            return refusal
        address = client_address(request)
        refused = self._sockets.reserve(identity.key, address)
        if refused is not None:  # logged once per burst by the registry
            return web.json_response({"error": "too_many_sockets", "limit": refused}, status=429)
        try:
            ws = web.WebSocketResponse(heartbeat=self._settings.ws_heartbeat_seconds, max_msg_size=_MAX_MSG_SIZE)
            await ws.prepare(request)
        except BaseException:
            self._sockets.release(identity.key, address)
            raise
        conn = Connection(ws, identity, self._settings.ws_messages_per_second)
        self._connections[conn.id] = conn
        self._sockets.add(conn)
        try:
            await self._read(conn)
        finally:
            await self._detach(conn, address)
        return ws

    async def _read(self, conn: Connection) -> None:
        """Every frame until the socket closes. A text frame within the rate limit is parsed and handed to
        :meth:`on_message`: this is the hot path (every relayed offer, answer and candidate), hence one coroutine."""
        parse, on_message, limit = self.parse, self.on_message, conn.limit
        async for frame in conn.ws:
            if frame.type is _TEXT:
                allowed = limit.check()
                if not allowed:
                    refuse(conn, flooding=allowed is None)
                    continue
                try:
                    msg = parse(frame.data)
                except p.ProtocolError as exc:
                    send_error(conn, exc.code, exc.message, exc.ref)
                    continue
                try:
                    await on_message(conn, msg)
                except Exception:
                    log.exception(
                        "signaling message failed", extra={"event": "ws_failure", "path": self.path, "room": conn.room}
                    )
                    send_error(conn, "server_error", "the server could not handle that message", msg.type)
            elif frame.type is _BINARY:
                conn.close_soon(CLOSE_UNSUPPORTED, "text frames only")
            elif frame.type is _ERROR:
                # aiohttp has already closed the socket, e.g. with 1009 for a frame over MAX_FRAME.
                log.info(
                    "signaling socket error", extra={"event": "ws_error", "path": self.path, "code": conn.ws.close_code}
                )
        log.info("signaling socket closed", extra={"event": "ws_closed", "path": self.path, "code": conn.ws.close_code})

    async def _detach(self, conn: Connection, address: str) -> None:
        del self._connections[conn.id]
        self._sockets.discard(conn)
        self._sockets.release(conn.identity.key, address)
        try:
            await self.on_detach(conn)
        finally:
            await conn.stop()

    # -- what rooms send -------------------------------------------------------------------------------------

    def deliver(self, effect: Send | Close) -> None:
        """Hand a room's message or close to the sockets of this process it is addressed to (serialised once)."""
        connections = self._connections
        if isinstance(effect, Send):
            text: str | None = None
            for target in effect.to:
                conn = connections.get(target)
                if conn is not None:
                    if text is None:
                        text = p.serialise(effect.message)
                    conn.send(text)
        else:
            conn = connections.get(effect.connection)
            if conn is not None:
                conn.close_soon(effect.code, effect.reason)

    # -- shutdown --------------------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close every socket with 1001 GOING_AWAY; their handlers then finish on their own."""
        connections = list(self._connections.values())
        if connections:
            log.info("signaling shutdown", extra={"event": "ws_shutdown", "path": self.path, "code": CLOSE_GOING_AWAY})
        await asyncio.gather(*(c.close(CLOSE_GOING_AWAY, "server shutting down") for c in connections))

    async def close(self) -> None:
        """Stop what is left after :meth:`shutdown` (writer tasks); subclasses release their own resources."""
        await asyncio.gather(*(c.stop() for c in self._connections.values()))


_Hub = TypeVar("_Hub", bound=SocketHub)


def add_endpoint(
    app: web.Application, path: str, name: str, key: web.AppKey[_Hub], make: Callable[[web.Application], _Hub]
) -> None:
    """Route ``GET path`` (named ``name``) to the hub ``make(app)`` stored under ``key``, created in the cleanup
    context and closed with GOING_AWAY at shutdown (before aiohttp waits for the handlers)."""

    async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
        hub = app[key] = make(app)
        yield
        await hub.shutdown()  # normally done already by on_shutdown
        await hub.close()

    async def on_shutdown(app: web.Application) -> None:
        if key in app:
            await app[key].shutdown()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await request.app[key].handle(request)

    app.router.add_get(path, handler, name=name)
    app.cleanup_ctx.append(hub_ctx)
    app.on_shutdown.append(on_shutdown)


# -- revocation ------------------------------------------------------------------------------------------------


async def sockets_ctx(app: web.Application) -> AsyncIterator[None]:
    """The application's socket registry and its revocation sweeper, every ``SWEEP_SECONDS`` from one interval after
    the start (before the hubs in the cleanup contexts)."""
    sockets = app[sockets_key] = Sockets(app[settings_key])
    ending: set[str] = set()

    async def sweep_once() -> None:
        nonlocal ending
        sockets.refusals.flush()
        try:
            ending = await sweep(app, sockets, ending)
        except Exception:  # logged here, with its traceback and event name, rather than by periodic()
            log.exception("signaling revocation sweep failed", extra={"event": "ws_sweep_failed"})

    async with running(
        "ws-revocation-sweeper", "signaling revocation sweep", SWEEP_SECONDS, sweep_once, at_start=False
    ):
        yield
    sockets.refusals.flush(force=True)


async def sweep(app: web.Application, sockets: Sockets, ending: set[str]) -> set[str]:
    """Close the open sockets whose credential no longer stands. A citizen whose consultation ended is closed one
    sweep later (``ending`` holds them meanwhile, returned for the next sweep), so that when the room itself ends
    the session its ``ended`` message and 1000 close go first."""
    connections = sockets.open_connections()
    if not connections:
        return set()
    identities = [conn.identity for conn in connections]
    verdicts = await standings(app[sessionmaker_key], app[settings_key], identities)
    still_ending: set[str] = set()
    for conn in connections:
        key = conn.identity.standing_key
        verdict = verdicts.get(key)
        if verdict is None or conn.closing:
            continue
        if verdict is Standing.ENDED and key not in ending:
            still_ending.add(key)
            continue
        code, reason = _CLOSES[verdict]
        log.info("signaling socket revoked (%s)", verdict.value, extra={"event": "ws_revoked", "code": code})
        conn.close_soon(code, reason)
    return still_ending
