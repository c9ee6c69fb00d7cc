"""Live alerts about cases, as the case code sees them: a small notifier interface, so that case code raises an
alert without knowing how it reaches anyone (today the ``/ws/alerts`` sockets of :mod:`signaling.alerts`, which
registers itself under :data:`risk_notifier_key`).

An alert names the case by its code and id, never the citizen. Who is alerted is the access policy's to say
(:func:`alerted_roles`): those who may read the risk of every case.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web

from server.cases import policy
from server.cases.policy import Action
from server.models import Role
from server.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RiskAlert:
    """A case was assessed at high risk."""

    case_id: str
    code: str  # the case code, never the citizen's name
    by: str  # who assessed it (a staff member's name)
    at: str  # ISO-8601, UTC


class RiskNotifier(Protocol):
    """What carries an alert to those on duty."""

    def high_risk(self, alert: RiskAlert) -> int:
        """Send ``alert`` without waiting; how many consoles it went to."""
        ...


risk_notifier_key = web.AppKey("risk_notifier", RiskNotifier)


def alerted_roles(settings: Settings) -> frozenset[Role]:
    """Who is alerted: the roles that :mod:`server.cases.policy` lets read the risk of every case (supervisors,
    when ``supervisors_see_all_cases``; no one otherwise, since an alert names a case its reader may not know)."""
    see_all = settings.supervisors_see_all_cases
    return frozenset(role for role in Role if policy.allowed(role, Action.READ, "other", supervisors_see_all=see_all))


def high_risk(app: web.Application, *, case_id: str, code: str, by: str) -> int:
    """Alert those on duty (:func:`alerted_roles`) that case ``code`` was assessed at high risk; how many
    consoles the alert went to (none when no notifier is registered)."""
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    notifier = app.get(risk_notifier_key)
    sent = notifier.high_risk(RiskAlert(case_id=case_id, code=code, by=by, at=at)) if notifier is not None else 0
    log.info("high-risk alert sent", extra={"event": "alert_high_risk", "listeners": sent})
    return sent
