"""``GET /ws/alerts``: the real-time alerts of the on-duty supervisors in their console.

A staff-only socket on the shared base (:mod:`signaling.sockets`): the handshake refuses a foreign Origin (403), no
cookie (401), a citizen or a staff member whose role may not read risk (403; who may is
:mod:`server.cases.policy`'s to say: :func:`alerted_roles`). The server only speaks on it; what a client sends is
answered with an error (or, flooding, a close). :func:`high_risk` sends one alert to every open alerts socket of
this process. An alert names the case by its code and id (the page links to ``/cases/{id}``), never the citizen.
Logs carry event names and codes only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from server.cases import policy
from server.cases.policy import Action
from server.identity import Identity
from server.keys import alert_hub_key
from server.models import Role
from server.settings import Settings
from signaling.connection import Connection, send_error
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


class AlertHub(SocketHub):
    """Every alerts socket of this process. Created in the cleanup context (:func:`setup_alerts`)."""

    staff_only = True
    path = "/ws/alerts"

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

    async def on_text(self, conn: Connection, text: str) -> None:
        send_error(conn, "unknown_type", "this socket only sends alerts", None)

    def broadcast(self, alert: Alert) -> int:
        """Queue ``alert`` on every open socket (never blocks); how many it went to."""
        text = alert.serialise()
        sent = 0
        for conn in list(self._connections.values()):
            if not conn.closing:
                conn.send(text)
                sent += 1
        return sent


def alerted_roles(settings: Settings) -> frozenset[Role]:
    """Who is alerted: the roles that server.cases.policy lets read the risk of every case (supervisors, when
    ``supervisors_see_all_cases``; no one otherwise, since an alert names a case its reader may not know)."""
    see_all = settings.supervisors_see_all_cases
    return frozenset(role for role in Role if policy.allowed(role, Action.READ, "other", supervisors_see_all=see_all))


async def high_risk(app: web.Application, *, case_id: str, code: str, by: str) -> None:
    """Alert every connected supervisor (:func:`alerted_roles`) that case ``code`` was assessed at high risk."""
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    alert = Alert(kind="high_risk", case=code, case_id=case_id, by=by, at=at)
    sent = app[alert_hub_key].broadcast(alert) if alert_hub_key in app else 0
    log.info("high-risk alert sent", extra={"event": "alert_high_risk", "listeners": sent})


def setup_alerts(app: web.Application) -> None:
    """Add ``GET /ws/alerts`` (named "ws_alerts"), its hub and the GOING_AWAY close at shutdown."""
    add_endpoint(app, "/ws/alerts", "ws_alerts", alert_hub_key, AlertHub)
