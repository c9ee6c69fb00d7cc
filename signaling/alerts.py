"""``GET /ws/alerts``: the real-time alerts of the on-duty supervisors in their console.

A staff-only socket on the shared base (:mod:`signaling.sockets`): the handshake refuses a foreign Origin (403), no
cookie (401), a citizen or a staff member whose role may not read risk (403; who may is
:func:`server.cases.alerts.alerted_roles`). The server only speaks on it; what a client sends is answered with an
error (or, flooding, a close). The hub is the application's :class:`~server.cases.alerts.RiskNotifier`: case code
calls :func:`server.cases.alerts.high_risk`, which sends one alert to every open alerts socket of this process. An
alert names the case by its code and id (the page links to ``/cases/{id}``), never the citizen. Logs carry event
names and codes only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import NoReturn

from aiohttp import web

from server.cases.alerts import RiskAlert, alerted_roles, risk_notifier_key
from server.identity import Identity
from signaling import protocol as p
from signaling.sockets import SocketHub, add_endpoint

log = logging.getLogger(__name__)


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


def _refuse(text: str) -> NoReturn:
    """Whatever a client sends on ``/ws/alerts`` is answered with ``unknown_type``."""
    raise p.ProtocolError("unknown_type", "this socket only sends alerts")


class AlertHub(SocketHub):
    """Every alerts socket of this process. Created in the cleanup context (:func:`setup_alerts`)."""

    staff_only = True
    path = p.ALERTS

    def __init__(self, app: web.Application) -> None:
        super().__init__(app)
        self._roles = alerted_roles(self._settings)

    @property
    def listeners(self) -> int:
        return self.connection_count

    def admits(self, identity: Identity) -> web.Response | None:
        if identity.role in self._roles:
            return None
        log.info("alerts handshake refused", extra={"event": "ws_alerts_role", "status": 403})
        return web.json_response({"error": "forbidden"}, status=403)

    parse = staticmethod(_refuse)  # so on_message is never called

    def high_risk(self, alert: RiskAlert) -> int:
        """:class:`~server.cases.alerts.RiskNotifier`: a high-risk alert to every open socket."""
        return self.broadcast(Alert(kind="high_risk", case=alert.code, case_id=alert.case_id, by=alert.by, at=alert.at))

    def broadcast(self, alert: Alert) -> int:
        """Queue ``alert`` on every open socket (never blocks); how many it went to."""
        text = alert.serialise()
        sent = 0
        for conn in list(self._connections.values()):
            if not conn.closing:
                conn.send(text)
                sent += 1
        return sent


alert_hub_key = web.AppKey("alert_hub", AlertHub)


def setup_alerts(app: web.Application) -> None:
    """Add ``GET /ws/alerts`` (named "ws_alerts"), its hub and the GOING_AWAY close at shutdown."""

    def make(app: web.Application) -> AlertHub:
        hub = app[risk_notifier_key] = AlertHub(app)  # how case code reaches these sockets
        return hub

    add_endpoint(app, AlertHub.path, "ws_alerts", alert_hub_key, make)
