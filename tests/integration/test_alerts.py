"""``/ws/alerts`` over real sockets: supervisors receive a high-risk alert (case code and id, never a name); the
roles that server.cases.policy does not let read risk (operators on others' cases, switchboard, coordinators),
citizens, strangers and foreign Origins are refused at the handshake; shutdown closes 1001."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server import cases
from server.cases import alerts, policy, records
from server.cases.policy import Action
from server.models import RiskLevel, Role
from signaling.alerts import alert_hub_key
from tests.helpers.factories import make_consultation, make_staff
from tests.helpers.sockets import AlertHarness, until_listening

Client = TestClient[Any, Any]


async def test_a_high_risk_assessment_reaches_every_supervisor(client: Client) -> None:
    operator = await make_staff(client.app, name="Dott.ssa Rossi")
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR, name="Supervisore")
    colleague = await make_staff(client.app, role=Role.SUPERVISOR, name="Supervisore 2")
    consultation = (await make_consultation(client.app, operator, citizen_name="Maria Bianchi")).consultation
    ctx = cases.context(client.app)
    case = await records.case_of_consultation(ctx, operator, consultation.id)
    async with AlertHarness(client) as h:
        on_duty = await h.connect(await h.operator_browser(supervisor))
        also = await h.connect(await h.operator_browser(colleague))
        await until_listening(client, 2)
        await records.assess_risk(ctx, operator, case.id, RiskLevel.HIGH, RiskLevel.NONE)
        alerts.high_risk(client.app, case_id=case.id, code=case.code, by=f"staff:{operator.id}")
        for peer in (on_duty, also):
            alert = await peer.expect("alert")
            assert {k: alert[k] for k in ("kind", "case", "case_id", "by")} == {
                "kind": "high_risk",
                "case": case.code,
                "case_id": case.id,
                "by": f"staff:{operator.id}",
            }
            assert datetime.fromisoformat(alert["at"]).utcoffset() is not None
            assert "Maria" not in str(alert) and "Bianchi" not in str(alert)
        # The socket only speaks: what a client sends is answered with an error, not a crash.
        await on_duty.send(type="join", room="x")
        assert (await on_duty.expect("error"))["code"] == "unknown_type"


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SWITCHBOARD, Role.COORDINATOR])
async def test_roles_the_policy_keeps_from_risk_are_refused_alerts(client: Client, role: Role) -> None:
    """server.cases.policy: coordinators see no risk, switchboard staff neither, operators only on their cases."""
    assert not policy.allowed(role, Action.READ, "other")
    staff = await make_staff(client.app, role=role)
    async with AlertHarness(client) as h:
        assert await h.refused(await h.operator_browser(staff)) == 403
    assert client.app[alert_hub_key].listeners == 0


def test_the_alerted_roles_are_those_the_policy_lets_read_every_cases_risk(make_settings: Any) -> None:
    assert alerts.alerted_roles(make_settings()) == {Role.SUPERVISOR}
    assert alerts.alerted_roles(make_settings(supervisors_see_all_cases=False)) == set()


async def test_citizens_strangers_and_foreign_origins_are_refused(client: Client) -> None:
    operator = await make_staff(client.app)
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    async with AlertHarness(client) as h:
        _, token = await h.consultation(operator)
        assert await h.refused(await h.citizen_browser(token)) == 403
        assert await h.refused(h.browser()) == 401
        assert await h.refused(await h.operator_browser(supervisor), origin="https://evil.example") == 403
    assert client.app[alert_hub_key].listeners == 0


async def test_shutdown_closes_the_alert_sockets_going_away(client: Client) -> None:
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    async with AlertHarness(client) as h:
        peer = await h.connect(await h.operator_browser(supervisor))
        await until_listening(client, 1)
        hub = client.app[alert_hub_key]
        closing = asyncio.create_task(client.close())
        assert await peer.close_code() == 1001
        await asyncio.wait_for(closing, 10)
        assert hub.listeners == 0
