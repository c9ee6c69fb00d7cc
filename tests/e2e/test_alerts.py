"""A supervisor's console in real Chromium shows the high-risk alert, with the case code and a link to the case,
when an operator, in another browser, assesses a case at high risk with the case page's risk form; and the
operator then sees the safety protocol's checklist."""

from __future__ import annotations

import pytest

from server import cases
from server.cases import records
from server.models import Role
from signaling.alerts import alert_hub_key
from tests.helpers.browser import PASSWORD, LiveServer, NewContext
from tests.helpers.factories import make_consultation, make_staff
from tests.helpers.pages import operator_login

pytestmark = pytest.mark.e2e


async def test_a_supervisor_console_shows_the_high_risk_alert(live_server: LiveServer, new_context: NewContext) -> None:
    app = live_server.client.app
    supervisor = await make_staff(app, role=Role.SUPERVISOR, name="Supervisore", password=PASSWORD)
    operator = await make_staff(app, name="Dott. Verdi", password=PASSWORD)
    consultation = (await make_consultation(app, operator, citizen_name="Maria Bianchi")).consultation
    ctx = cases.context(app)
    case = await records.case_of_consultation(ctx, operator, consultation.id)

    page = await (await new_context()).new_page()
    await operator_login(page, live_server.url, supervisor.email, PASSWORD)
    await page.wait_for_function("() => window.ascoltoAlerts?.connected === true")
    assert app[alert_hub_key].listeners == 1

    desk = await (await new_context()).new_page()
    await operator_login(desk, live_server.url, operator.email, PASSWORD)
    await desk.goto(f"{live_server.url}/cases/{case.id}")
    await desk.check("form.risk-form input[name=self_harm][value=high]")
    await desk.check("form.risk-form input[name=others][value=none]")
    await desk.click("form.risk-form button[type=submit]")
    await desk.wait_for_url(f"**/cases/{case.id}**")

    alert = page.locator("[role=alert][data-case]")
    await alert.wait_for()
    text = await alert.inner_text()
    assert case.code in text and "Maria" not in text and "Bianchi" not in text
    assert await alert.locator("a").get_attribute("href") == f"/cases/{case.id}"
    assert await desk.locator("form[action$='/safety']").count() > 0  # the checklist, on the operator's page


async def test_an_operator_console_opens_no_alert_socket(live_server: LiveServer, new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await operator_login(page, live_server.url, live_server.email, live_server.password)
    assert await page.locator("script[data-alerts]").count() == 0
    assert live_server.client.app[alert_hub_key].listeners == 0
