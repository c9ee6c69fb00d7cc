"""The coordinator's audit pages and a citizen's rights, on SQLite and PostgreSQL: the audit log with filters
(bad ones are a 400 with a message), its own reading audited; a citizen's accesses as CSV (safe against formula
injection) and JSON; the export of everything held about them; anonymisation after a confirmation; refusals of
other roles are 403 and audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server import audit, cases
from server.cases import records
from server.keys import sessionmaker_key
from server.models import AuditEvent, Booking, Case, CaseNote, Consultation, RiskLevel, Role
from tests.helpers.factories import CASE_NOTE, citizen_case, make_staff
from tests.helpers.web import login

Client = TestClient[Any, Any]
EMAIL = "maria@example.org"


async def actions(client: Client, actor: str) -> list[str]:
    async with client.app[sessionmaker_key]() as db:
        query = select(AuditEvent.action).where(AuditEvent.actor == actor).order_by(AuditEvent.id)
        return list(await db.scalars(query))


async def test_the_audit_log_filters_pages_and_audits_its_own_reading(client: Client) -> None:
    operator, case = await citizen_case(client.app)
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    await login(client, coordinator)
    page = await client.get("/audit", params={"case": case.code, "action": "write_note"})
    assert page.status == 200
    html = await page.text()
    assert html.count("<td>write_note</td>") == 1 and CASE_NOTE not in html and "Maria" not in html
    assert (await client.get("/audit", params={"actor": operator.email})).status == 200
    for bad in (
        {"since": "yesterday"},
        {"since": "2025-02-02", "until": "2025-02-01"},
        {"page": "0"},
        {"case": "NOPE00"},
    ):
        refused = await client.get("/audit", params=bad)
        assert refused.status == 400, bad
        assert 'role="alert"' in await refused.text()
    assert (await actions(client, f"staff:{coordinator.id}")).count("read") == 2  # the two good reads


async def test_a_citizens_accesses_as_csv_and_json_with_safe_cells(client: Client) -> None:
    _, case = await citizen_case(client.app)
    async with client.app[sessionmaker_key].begin() as db:
        db.add(audit.event("=HYPERLINK(1)", "+read", "case", "-x", subject=case.id))
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    token = await login(client, coordinator)
    response = await client.post("/audit/citizen", data={"csrf_token": token, "contact": "+39 333", "format": "csv"})
    assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(await response.text())))
    assert table[0] == ["id", "at", "actor", "action", "object_type", "object_id", "case"]
    assert [row[3] for row in table[1:6]] == ["create", "link", "write_note", "assess_risk", "record_outcome"]
    assert table[-1][2:6] == ["'=HYPERLINK(1)", "'+read", "case", "'-x"] and table[-1][6] == case.code
    response = await client.post(
        "/audit/citizen", data={"csrf_token": token, "contact": EMAIL.upper(), "format": "json"}
    )
    body = await response.json(content_type=None)
    assert body["cases"] == [case.code] and len(body["accesses"]) == len(table) - 1 + 1  # the CSV read is listed
    page = await client.post("/audit/citizen", data={"csrf_token": token, "contact": "   "})
    assert page.status == 400
    assert (await actions(client, f"staff:{coordinator.id}")).count("read_accesses") == 2


async def test_export_lists_everything_and_anonymisation_needs_a_confirmation(client: Client) -> None:
    _, case = await citizen_case(client.app)
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    token = await login(client, coordinator)
    response = await client.post("/audit/citizen/export", data={"csrf_token": token, "contact": "maria@example.org"})
    assert response.status == 200
    document = await response.json(content_type=None)
    (exported,) = document["cases"]
    assert exported["code"] == case.code and exported["citizen_name"] == "Maria Bianchi"
    assert len(exported["consultations"]) == 1
    assert {"create", "write_note", "read_notes"} <= {a["action"] for a in document["accesses"]}

    confirm = await client.post(
        "/audit/citizen/anonymise", data={"csrf_token": token, "case_id": case.id, "code": case.code}
    )
    assert confirm.status == 200 and 'name="confirm" value="yes"' in await confirm.text()
    async with client.app[sessionmaker_key]() as db:
        assert (await db.get(Case, case.id)).anonymised_at is None
    done = await client.post(
        "/audit/citizen/anonymise",
        data={"csrf_token": token, "case_id": case.id, "code": case.code, "confirm": "yes"},
        allow_redirects=False,
    )
    assert done.status == 303
    async with client.app[sessionmaker_key]() as db:
        after = await db.get(Case, case.id)
        assert after is not None and after.anonymised_at is not None
        assert (after.citizen_name, after.citizen_email, after.citizen_phone) == ("—", "", "")
        assert (after.reason, after.risk_self) == (case.reason, RiskLevel.MEDIUM)  # figures kept
        assert await db.scalar(select(func.count()).select_from(CaseNote)) == 0
        names = await db.scalars(select(Consultation.citizen_name).where(Consultation.case_id == case.id))
        assert set(names) == {"—"}
        assert (
            await db.scalar(select(func.count()).select_from(Booking).where(Booking.citizen_name == "Maria Bianchi"))
            == 0
        )
    assert (await actions(client, f"staff:{coordinator.id}"))[-1] == "anonymise"


async def test_the_coordinators_export_holds_no_note_text_or_risk(client: Client) -> None:
    """The policy gives coordinators no notes and no risk: their export of a citizen's data follows it, and says
    what it withholds and where to ask for it."""
    operator, case = await citizen_case(client.app)
    await records.record_safety_step(cases.context(client.app), operator, case.id, "asked_plan")
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    token = await login(client, coordinator)
    response = await client.post("/audit/citizen/export", data={"csrf_token": token, "contact": EMAIL})
    assert response.status == 200
    raw = await response.text()
    assert CASE_NOTE not in raw and "medium" not in raw and "asked_plan" not in raw and "further_sessions" not in raw
    (exported,) = (await response.json(content_type=None))["cases"]
    for clinical in ("notes", "risk_assessments", "safety_steps", "outcomes", "reason", "risk_self"):
        assert clinical not in exported, clinical
    withheld = exported["withheld"]
    assert set(withheld["sections"]) == {"notes", "risk_assessments", "safety_steps", "outcomes", "reason"}
    assert "clinical lead" in withheld["how_to_request"]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR, Role.SWITCHBOARD])
async def test_no_other_role_exports_a_citizens_data(client: Client, role: Role) -> None:
    """Only the coordinator exports; an operator of the case, a supervisor and the switchboard are refused."""
    operator, _ = await citizen_case(client.app)
    someone = operator if role == Role.OPERATOR else await make_staff(client.app, role=role)
    token = await login(client, someone)
    response = await client.post("/audit/citizen/export", data={"csrf_token": token, "contact": EMAIL})
    assert response.status == 403 and CASE_NOTE not in await response.text()
    assert (await actions(client, f"staff:{someone.id}"))[-1] == "refused:export"


async def test_other_roles_are_refused_with_403_and_audited(client: Client) -> None:
    _, case = await citizen_case(client.app)
    for role in (Role.OPERATOR, Role.SUPERVISOR, Role.SWITCHBOARD):
        someone = await make_staff(client.app, role=role)
        token = await login(client, someone)
        assert (await client.get("/audit")).status == 403
        assert (await client.get("/audit/citizen")).status == 403
        contact = {"csrf_token": token, "contact": "maria@example.org"}
        assert (await client.post("/audit/citizen", data=contact)).status == 403
        assert (await client.post("/audit/citizen/export", data=contact)).status == 403
        anonymise = {"csrf_token": token, "case_id": case.id, "confirm": "yes"}
        assert (await client.post("/audit/citizen/anonymise", data=anonymise)).status == 403
        assert [a for a in await actions(client, f"staff:{someone.id}") if a.startswith("refused:")] == [
            "refused:audit",
            "refused:audit",
            "refused:audit",
            "refused:export",
            "refused:anonymise",
        ]
    async with client.app[sessionmaker_key]() as db:
        kept = await db.get(Case, case.id)
        assert kept is not None and kept.anonymised_at is None and kept.citizen_name == "Maria Bianchi"
