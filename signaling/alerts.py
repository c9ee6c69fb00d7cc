"""``GET /ws/alerts``: the real-time alerts of the on-duty supervisors (and coordinators) in their console.

A staff-only socket: the handshake refuses a foreign Origin (403), no cookie (401), a citizen or a staff member of
another role (403). The server only speaks on it; what a client sends is answered with an error (or, flooding,
a close). :func:`high_risk` sends one alert to every open alerts socket of this process. An alert names the case
by its code and id (the page links to ``/cases/{id}``), never the citizen. Logs carry event names and codes only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from aiohttp import WSMsgType, web

from server.identity import Identity
from server.keys import alert_hub_key, settings_key
from server.models import Role
from signaling.connection import CLOSE_GOING_AWAY, CLOSE_UNSUPPORTED, Connection, handshake, refuse, send_error, upgrade

log = logging.getLogger(__name__)

ALERTED_ROLES = frozenset({Role.SUPERVISOR, Role.COORDINATOR})


@dataclass(frozen=True)
class Alert:
    """One alert as it goes on the wire (``{"v": 1, "type": "alert", ...}``)."""

    kind: str
    case: str  # the case code
    case_id: str
    by: str
    at: str  # ISO-8601, UTC
    v: int = field(default=1)
    type: str = field(default="alert")

    def serialise(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


class AlertHub:
    """Every alerts socket of this process. Created in the cleanup context (:func:`setup_alerts`)."""

    def __init__(self, app: web.Application) -> None:
        self._settings = app[settings_key]
        self._connections: dict[str, Connection] = {}

    @property
    def listeners(self) -> int:
        return len(self._connections)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        identity = await handshake(request, self._settings, staff_only=True)
        if not isinstance(identity, Identity):
            return identity
        assert identity.staff is not None
        if identity.staff.role not in ALERTED_ROLES:
            log.info("alerts handshake refused", extra={"event": "ws_alerts_role", "status": 403})
            return web.json_response({"error": "forbidden"}, status=403)
        conn = await upgrade(request, self._settings, identity)
        self._connections[conn.id] = conn
        try:
            async for msg in conn.ws:
                if msg.type is WSMsgType.TEXT:
                    allowed = conn.limit.check()
                    if not allowed:
                        refuse(conn, flooding=allowed is None)
                    else:
                        send_error(conn, "unknown_type", "this socket only sends alerts", None)
                elif msg.type is WSMsgType.BINARY:
                    conn.close_soon(CLOSE_UNSUPPORTED, "text frames only")
            log.info("alerts socket closed", extra={"event": "ws_closed", "code": conn.ws.close_code})
        finally:
            self._connections.pop(conn.id, None)
            await conn.stop()
        return conn.ws

    def broadcast(self, alert: Alert) -> int:
        """Queue ``alert`` on every open socket (never blocks); how many it went to."""
        text = alert.serialise()
        sent = 0
        for conn in list(self._connections.values()):
            if not conn.closing:
                conn.send(text)
                sent += 1
        return sent

    async def shutdown(self) -> None:
        """Close every socket with 1001 GOING_AWAY; their handlers then finish on their own."""
        connections = list(self._connections.values())
        await asyncio.gather(*(c.close(CLOSE_GOING_AWAY, "server shutting down") for c in connections))

    async def close(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._connections.values()))


async def high_risk(app: web.Application, *, case_id: str, code: str, by: str) -> None:
    """Alert every connected supervisor and coordinator that case ``code`` was assessed at high risk."""
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    alert = Alert(kind="high_risk", case=code, case_id=case_id, by=by, at=at)
    sent = app[alert_hub_key].broadcast(alert) if alert_hub_key in app else 0
    log.info("high-risk alert sent", extra={"event": "alert_high_risk", "listeners": sent})


async def _alerts_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = app[alert_hub_key] = AlertHub(app)
    yield
    await hub.shutdown()
    await hub.close()


async def _on_shutdown(app: web.Application) -> None:
    if alert_hub_key in app:
        await app[alert_hub_key].shutdown()


async def _ws(request: web.Request) -> web.StreamResponse:
    return await request.app[alert_hub_key].handle(request)


def setup_alerts(app: web.Application) -> None:
    """Add ``GET /ws/alerts`` (named "ws_alerts"), the hub's cleanup context and the GOING_AWAY close at shutdown."""
    app.router.add_get("/ws/alerts", _ws, name="ws_alerts")
    app.cleanup_ctx.append(_alerts_ctx)
    app.on_shutdown.append(_on_shutdown)
