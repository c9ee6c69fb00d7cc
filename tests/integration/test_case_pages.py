"""The case pages through the in-process server: from a consultation to its case, notes, risk and the safety
protocol, outcomes, sharing and flagging; refusals (another operator's case ids, the switchboard); the team review
queue; the coordinator's directory of local services. Bad input shows what to fix and writes nothing."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, text

from server.keys import sessionmaker_key
from server.models import (
    AuditEvent,
    Case,
    CaseNote,
    CaseWorker,
    LocalService,
    Outcome,
    OutcomeKind,
    ReviewDecision,
    RiskAssessment,
    Role,
    SafetyAction,
    Staff,
)
from tests.helpers.factories import make_consultation, make_staff
from tests.helpers.sockets import AlertHarness, until_listening
from tests.helpers.web import login

Client = TestClient[Any, Any]
NOTE = "Racconta di una lite violenta con il fratello; nessun pensiero autolesivo."
CITIZEN = "Maria Esposito"


async def open_case(client: Client, operator: Staff | None = None) -> tuple[Staff, str, str, str]:
    """An operator, logged in, opens the case of their consultation: (operator, csrf, case id, consultation id)."""
    operator = operator or await make_staff(client.app, name="Dott.ssa Rossi")
    made = await make_consultation(client.app, operator, citizen_name=CITIZEN, citizen_email="maria@example.org")
    consultation_id = made.consultation.id
    csrf = await login(client, operator)
    room = await (await client.get(f"/console/consultations/{consultation_id}")).text()
    assert f'href="/console/consultations/{consultation_id}/case"' in room  # the side column and the end screen
    response = await client.get(f"/console/consultations/{consultation_id}/case", allow_redirects=False)
    assert response.status == 303
    location = response.headers["Location"]
    match = re.match(r"^/cases/([0-9a-f]+)\?consultation=" + consultation_id + "$", location)
    assert match, location
    return operator, csrf, match.group(1), consultation_id


async def count(client: Client, model: Any) -> int:
    async with client.app[sessionmaker_key]() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def the_case(client: Client, case_id: str) -> Case:
    async with client.app[sessionmaker_key]() as db:
        found = await db.get(Case, case_id)
    assert found is not None
    return found


async def test_the_operator_opens_a_case_writes_a_note_and_it_is_sealed(client: Client) -> None:
    operator, csrf, case_id, consultation_id = await open_case(client)
    case = await the_case(client, case_id)
    page = await client.get(f"/cases/{case_id}?consultation={consultation_id}")
    assert page.status == 200
    html = await page.text()
    assert f'class="case-code">{case.code}</h1>' in html and 'lang="it"' in html
    assert "Note dei colloqui" in html and "Accoglienza" in html
    assert f'name="consultation_id" value="{consultation_id}"' in html

    form = {"csrf_token": csrf, "note": NOTE, "consultation_id": consultation_id}
    response = await client.post(f"/cases/{case_id}/notes", data=form, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith(f"/cases/{case_id}?done=note&consultation={consultation_id}")
    html = await (await client.get(response.headers["Location"])).text()
    assert "Nota salvata." in html and "lite violenta con il fratello" in html
    async with client.app[sessionmaker_key]() as db:
        raw = await db.scalar(text("SELECT sealed FROM case_note"))
        note = (await db.scalars(select(CaseNote))).one()
    assert isinstance(raw, str) and "fratello" not in raw and NOTE not in raw
    assert note.consultation_id == consultation_id and note.author_id == operator.id

    english = await (await client.get(f"/cases/{case_id}?lang=en")).text()
    assert "Session notes" in english and 'lang="en"' in english and "Save the note" in english


async def test_bad_input_on_the_case_forms_says_what_to_fix_and_writes_nothing(client: Client) -> None:
    _, csrf, case_id, _ = await open_case(client)
    before = await count(client, AuditEvent)
    empty = await client.post(f"/cases/{case_id}/notes", data={"csrf_token": csrf, "note": "   "})
    assert empty.status == 400
    assert "Scrivi la nota prima di salvarla." in await empty.text()
    long = "x" * 20_001
    too_long = await client.post(f"/cases/{case_id}/notes", data={"csrf_token": csrf, "note": long})
    html = await too_long.text()
    assert too_long.status == 400 and "troppo lungo" in html and long in html  # what was typed is kept
    risk = await client.post(f"/cases/{case_id}/risk", data={"csrf_token": csrf, "self_harm": "extreme"})
    assert risk.status == 400 and (await risk.text()).count('aria-invalid="true"') == 2
    intake = await client.post(
        f"/cases/{case_id}/intake", data={"csrf_token": csrf, "reason": "x", "channel": "online"}
    )
    assert intake.status == 400 and "Scegli una delle opzioni." in await intake.text()
    outcome = await client.post(f"/cases/{case_id}/outcome", data={"csrf_token": csrf, "kind": ""})
    assert outcome.status == 400
    step = await client.post(f"/cases/{case_id}/safety", data={"csrf_token": csrf, "step": "dance"})
    assert step.status == 400
    share = await client.post(f"/cases/{case_id}/share", data={"csrf_token": csrf, "staff_id": ""})
    assert share.status == 400 and "Scegli un collega attivo" in await share.text()
    for model in (CaseNote, RiskAssessment, Outcome, SafetyAction):
        assert await count(client, model) == 0
    async with client.app[sessionmaker_key]() as db:
        actions = list(await db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert set(actions[before:]) == {"read_notes"}  # only the re-rendered pages' reads
    english = await client.post(f"/cases/{case_id}/notes?lang=en", data={"csrf_token": csrf, "note": ""})
    assert "Write the note before saving it." in await english.text()


async def test_high_risk_shows_the_safety_protocol_and_ticks_are_recorded(client: Client) -> None:
    _, csrf, case_id, consultation_id = await open_case(client)
    html = await (await client.get(f"/cases/{case_id}")).text()
    assert "Protocollo di sicurezza" not in html
    form = {"csrf_token": csrf, "self_harm": "high", "others": "low", "consultation_id": consultation_id}
    response = await client.post(f"/cases/{case_id}/risk", data=form, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].endswith("#safety")
    html = await (await client.get(response.headers["Location"])).text()
    assert "Protocollo di sicurezza" in html and "Chiamare il numero di emergenza 112" in html
    assert html.count('name="step"') == 6 and "Rischio alto registrato" in html
    case = await the_case(client, case_id)
    assert case.flagged and case.risk_self.value == "high"

    tick = {"csrf_token": csrf, "step": "emergency_called"}
    assert (await client.post(f"/cases/{case_id}/safety", data=tick, allow_redirects=False)).status == 303
    html = await (await client.get(f"/cases/{case_id}")).text()
    assert html.count('name="step"') == 5 and "Fatto il " in html
    async with client.app[sessionmaker_key]() as db:
        steps = list(await db.scalars(select(SafetyAction.action)))
        assessment = (await db.scalars(select(RiskAssessment))).one()
    assert steps == ["emergency_called"] and assessment.consultation_id == consultation_id

    lower = {"csrf_token": csrf, "self_harm": "low", "others": "none"}
    assert (await client.post(f"/cases/{case_id}/risk", data=lower, allow_redirects=False)).status == 303
    html = await (await client.get(f"/cases/{case_id}?lang=en")).text()
    assert "Safety protocol" not in html and "Earlier assessments (2)" in html


async def test_each_outcome_kind_is_recorded_and_a_missing_choice_is_a_clear_400(client: Client) -> None:
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    specialist = await make_staff(client.app, name="Avv. Verdi")
    async with client.app[sessionmaker_key]() as db, db.begin():
        specialist_row = await db.get(Staff, specialist.id)
        assert specialist_row is not None
        specialist_row.discipline = "avvocato"
        service = LocalService(name="CPS Niguarda", kind="CPS", area="Municipio 9", contacts="02 1234")
        db.add(service)
    assert coordinator.id
    operator, csrf, case_id, consultation_id = await open_case(client)
    html = await (await client.get(f"/cases/{case_id}")).text()
    assert '<optgroup label="avvocato">' in html and "CPS Niguarda · Municipio 9" in html

    missing = await client.post(f"/cases/{case_id}/outcome", data={"csrf_token": csrf, "kind": "specialist"})
    html = await missing.text()
    assert missing.status == 400 and "Scegli lo specialista dell&#39;équipe" in html
    assert 'value="specialist" checked' in html
    missing = await client.post(f"/cases/{case_id}/outcome?lang=en", data={"csrf_token": csrf, "kind": "referral"})
    assert missing.status == 400 and "Choose the local service" in await missing.text()
    assert await count(client, Outcome) == 0

    forms = [
        {"kind": "further_sessions"},
        {"kind": "specialist", "specialist_id": specialist.id},
        {"kind": "referral", "local_service_id": service.id},
        {"kind": "legal_advice"},
        {"kind": "closed_after_support"},
    ]
    for form in forms:
        data = {"csrf_token": csrf, "consultation_id": consultation_id, **form}
        response = await client.post(f"/cases/{case_id}/outcome", data=data, allow_redirects=False)
        assert response.status == 303, await response.text()
        if form["kind"] == "further_sessions":
            html = await (await client.get(response.headers["Location"])).text()
            assert f'href="/console/consultations/{consultation_id}/follow-up"' in html
    async with client.app[sessionmaker_key]() as db:
        outcomes = list(await db.scalars(select(Outcome).order_by(Outcome.id)))
        workers = set(await db.scalars(select(CaseWorker.staff_id).where(CaseWorker.case_id == case_id)))
    assert [o.kind for o in outcomes] == [OutcomeKind(f["kind"]) for f in forms]
    assert outcomes[1].specialist_id == specialist.id and outcomes[2].local_service_id == service.id
    assert workers == {operator.id, specialist.id}  # the specialist took the case on
    html = await (await client.get(f"/cases/{case_id}?lang=it")).text()
    assert "Chiuso" in html and "CPS Niguarda" in html and "Avv. Verdi" in html


async def test_sharing_and_flagging(client: Client) -> None:
    colleague = await make_staff(client.app, name="Dott. Neri")
    _, csrf, case_id, _ = await open_case(client)
    html = await (await client.get(f"/cases/{case_id}")).text()
    assert f'<option value="{colleague.id}">Dott. Neri</option>' in html
    share = {"csrf_token": csrf, "staff_id": colleague.id}
    assert (await client.post(f"/cases/{case_id}/share", data=share, allow_redirects=False)).status == 303
    unknown = await client.post(f"/cases/{case_id}/share", data={"csrf_token": csrf, "staff_id": "nobody"})
    assert unknown.status == 400
    flag = {"csrf_token": csrf, "flagged": "1"}
    assert (await client.post(f"/cases/{case_id}/flag", data=flag, allow_redirects=False)).status == 303
    assert (await the_case(client, case_id)).flagged
    html = await (await client.get(f"/cases/{case_id}")).text()
    assert "Togli la segnalazione" in html and "Dott. Neri" in html

    csrf = await login(client, colleague)  # shared with them: they work on it now
    assert "lite" not in await (await client.get(f"/cases/{case_id}")).text()
    unflag = {"csrf_token": csrf, "flagged": "0"}
    assert (await client.post(f"/cases/{case_id}/flag", data=unflag, allow_redirects=False)).status == 303
    assert not (await the_case(client, case_id)).flagged


async def test_another_operator_changing_the_case_id_gets_404_and_nothing_is_written(client: Client) -> None:
    _, csrf, case_id, consultation_id = await open_case(client)
    note = {"csrf_token": csrf, "note": NOTE}
    assert (await client.post(f"/cases/{case_id}/notes", data=note, allow_redirects=False)).status == 303
    intruder = await make_staff(client.app, name="Dott. Gialli")
    csrf = await login(client, intruder)
    assert (await client.get(f"/cases/{case_id}")).status == 404
    assert (await client.get(f"/console/consultations/{consultation_id}/case")).status == 404
    posts = {
        "notes": {"note": "scritto da chi non deve"},
        "risk": {"self_harm": "high", "others": "high"},
        "intake": {"reason": "other", "channel": "online"},
        "outcome": {"kind": "legal_advice"},
        "safety": {"step": "asked_plan"},
        "share": {"staff_id": intruder.id},
        "flag": {"flagged": "1"},
        "notes?again": {"note": ""},  # bad input on someone else's case is still a 404
    }
    for action, form in posts.items():
        response = await client.post(f"/cases/{case_id}/{action.split('?')[0]}", data={"csrf_token": csrf, **form})
        assert response.status == 404, action
        assert "lite violenta" not in await response.text()
    assert await count(client, CaseNote) == 1
    for model in (RiskAssessment, Outcome, SafetyAction):
        assert await count(client, model) == 0
    case = await the_case(client, case_id)
    assert not case.flagged and case.risk_self.value == "none" and case.reason.value == "other"
    async with client.app[sessionmaker_key]() as db:
        workers = set(await db.scalars(select(CaseWorker.staff_id)))
        by_intruder = select(AuditEvent.action).where(AuditEvent.actor == f"staff:{intruder.id}")
        refused = list(await db.scalars(by_intruder.where(AuditEvent.action != "list")))
    assert intruder.id not in workers
    assert len(refused) == 2 + len(posts) and all(a.startswith("refused:") for a in refused)  # each one logged


async def test_the_switchboard_never_sees_notes_or_risk(client: Client) -> None:
    _, csrf, case_id, _ = await open_case(client)
    await client.post(f"/cases/{case_id}/notes", data={"csrf_token": csrf, "note": NOTE})
    switchboard = await make_staff(client.app, role=Role.SWITCHBOARD, name="Centralino")
    csrf = await login(client, switchboard)
    page = await client.get(f"/cases/{case_id}")
    assert page.status == 403 and "lite violenta" not in await page.text()
    for action, form in {"notes": {"note": "x"}, "risk": {"self_harm": "high", "others": "low"}}.items():
        response = await client.post(f"/cases/{case_id}/{action}", data={"csrf_token": csrf, **form})
        assert response.status == 403 and "lite violenta" not in await response.text()
    bad = await client.post(f"/cases/{case_id}/notes", data={"csrf_token": csrf, "note": ""})
    assert bad.status == 403 and "lite violenta" not in await bad.text()
    assert await count(client, CaseNote) == 1 and await count(client, RiskAssessment) == 0
    assert (await client.get("/cases/review")).status == 403


async def test_the_review_queue_shows_codes_not_names_and_the_supervisor_decides(client: Client) -> None:
    _, csrf, case_id, _ = await open_case(client)
    case = await the_case(client, case_id)
    assert (await client.get("/cases/review")).status == 403  # an operator
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR, name="Dott. Bianchi")
    csrf = await login(client, supervisor)
    console = await (await client.get("/console")).text()
    assert 'href="/cases/review"' in console and 'href="/cases/directory"' not in console
    page = await client.get("/cases/review")
    assert page.status == 200
    html = await page.text()
    assert case.code in html and "Nuovo" in html and "Senza esito" in html
    assert CITIZEN not in html and "maria@example.org" not in html
    empty = await client.post(f"/cases/{case_id}/decision", data={"csrf_token": csrf, "decision": " "})
    assert empty.status == 400 and "Scrivi la decisione prima di registrarla." in await empty.text()
    assert await count(client, ReviewDecision) == 0
    decision = {"csrf_token": csrf, "decision": "Proseguire con colloqui settimanali."}
    response = await client.post(f"/cases/{case_id}/decision", data=decision, allow_redirects=False)
    assert response.status == 303
    assert "Decisione registrata." in await (await client.get(response.headers["Location"])).text()
    async with client.app[sessionmaker_key]() as db:
        raw = await db.scalar(text("SELECT sealed FROM review_decision"))
    assert isinstance(raw, str) and "settimanali" not in raw
    on_the_case = await (await client.get(f"/cases/{case_id}")).text()
    assert (
        "Decisioni della revisione di équipe" in on_the_case and "Proseguire con colloqui settimanali." in on_the_case
    )
    english = await (await client.get("/cases/review?lang=en")).text()
    assert "Cases awaiting team review" in english and "No outcome" in english

    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    await login(client, coordinator)
    html = await (await client.get("/cases/review")).text()
    assert case.code in html and 'name="decision"' not in html and CITIZEN not in html


async def test_the_coordinator_keeps_the_directory_of_local_services(client: Client) -> None:
    coordinator = await make_staff(client.app, role=Role.COORDINATOR)
    csrf = await login(client, coordinator)
    assert 'href="/cases/directory"' in await (await client.get("/console")).text()
    html = await (await client.get("/cases/directory")).text()
    assert 'id="new-name" name="name" type="text" value="" maxlength="200"' in html
    bad = {"csrf_token": csrf, "name": "", "kind": "CPS", "area": "x" * 101, "contacts": "", "hours": "9-17"}
    response = await client.post("/cases/directory", data=bad)
    html = await response.text()
    assert response.status == 400 and html.count('aria-invalid="true"') == 3
    assert "Campo obbligatorio." in html and "Il testo è troppo lungo." in html and 'value="9-17"' in html
    assert await count(client, LocalService) == 0

    good = {**bad, "name": "CPS Niguarda", "area": "Municipio 9", "contacts": "02 1234, cps@example.org"}
    response = await client.post("/cases/directory", data=good, allow_redirects=False)
    assert response.status == 303
    async with client.app[sessionmaker_key]() as db:
        service = (await db.scalars(select(LocalService))).one()
    html = await (await client.get(response.headers["Location"])).text()
    assert "Servizio aggiunto." in html and "CPS Niguarda" in html

    edit = {**good, "csrf_token": csrf, "name": ""}
    response = await client.post(f"/cases/directory/{service.id}", data=edit)
    assert response.status == 400 and 'aria-invalid="true"' in await response.text()
    edit["name"] = "CPS Niguarda (Ospedale)"
    assert (await client.post(f"/cases/directory/{service.id}", data=edit, allow_redirects=False)).status == 303
    off = {"csrf_token": csrf, "active": "0"}
    assert (await client.post(f"/cases/directory/{service.id}/active", data=off, allow_redirects=False)).status == 303
    assert (await client.post("/cases/directory/nope/active", data=off)).status == 404
    async with client.app[sessionmaker_key]() as db:
        service = (await db.scalars(select(LocalService))).one()
        actions = list(await db.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "local_service")))
    assert service.name == "CPS Niguarda (Ospedale)" and not service.active
    assert actions == ["create", "update", "deactivate"]
    english = await (await client.get("/cases/directory?lang=en")).text()
    assert "Local services" in english and "Reactivate" in english

    operator = await make_staff(client.app)
    csrf = await login(client, operator)
    assert (await client.get("/cases/directory")).status == 403
    assert (await client.post("/cases/directory", data={**good, "csrf_token": csrf})).status == 403
    assert await count(client, LocalService) == 1


async def test_a_high_risk_assessment_alerts_the_supervisor_on_duty(client: Client) -> None:
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR, name="Dott. Bianchi")
    operator, csrf, case_id, _ = await open_case(client)
    case = await the_case(client, case_id)
    async with AlertHarness(client) as h:
        on_duty = await h.connect(await h.operator_browser(supervisor))
        await until_listening(client, 1)
        medium = {"csrf_token": csrf, "self_harm": "medium", "others": "none"}
        assert (await client.post(f"/cases/{case_id}/risk", data=medium, allow_redirects=False)).status == 303
        high = {"csrf_token": csrf, "self_harm": "none", "others": "high"}
        assert (await client.post(f"/cases/{case_id}/risk", data=high, allow_redirects=False)).status == 303
        alert = await on_duty.expect("alert")  # the first message: the medium assessment raised none
    shown = (alert["kind"], alert["case"], alert["case_id"], alert["by"])
    assert shown == ("high_risk", case.code, case_id, operator.name)
    assert "Maria" not in str(alert) and "Esposito" not in str(alert)
