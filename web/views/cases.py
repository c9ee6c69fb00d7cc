"""The case page: from a consultation to its case, then the case itself (intake, risk and the safety protocol,
notes, outcomes, sharing, the review flag). Every read and write goes through :mod:`server.cases.records`, which
checks the access rule and writes the audit row; the handlers here only parse the form and pick the page.

A form with bad input re-renders the page with a 400, the fields to fix and what was typed; nothing is written.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from aiohttp import web

from server import cases, staff_lists
from server.auth import SessionInfo
from server.cases import alerts, directory, merging, records
from server.cases.policy import Action, Relation, allowed
from server.errors import InvalidInput
from server.keys import sessionmaker_key
from server.models import Channel, OutcomeKind, Reason, RiskLevel, Role, Staff
from web.guard import Form, checked_form, require_staff
from web.render import page, see_other

E = TypeVar("E", bound=enum.StrEnum)
CLINICIANS = (Role.OPERATOR, Role.SUPERVISOR)  # who a case can be shared with or taken on by
FOLLOW_UP_ROLES = (Role.OPERATOR, Role.COORDINATOR)
SWITCHBOARD_ROLES = (Role.SWITCHBOARD, Role.OPERATOR, Role.COORDINATOR)
SHOWN_ACTIONS = (
    Action.WRITE_NOTE,
    Action.ASSESS_RISK,
    Action.RECORD_OUTCOME,
    Action.SAFETY_STEP,
    Action.SHARE,
    Action.FLAG,
)
RECORDS_ERRORS = {  # what records.* says -> the message key shown next to the field
    ("specialist_id", "required"): "specialist",
    ("local_service_id", "required"): "local_service",
    ("staff_id", "unknown"): "colleague",
    ("note", "required"): "note_required",
    ("step", "unknown"): "pick_one",
}


# -- from a consultation -----------------------------------------------------------------------------------------


async def from_consultation(request: web.Request) -> web.StreamResponse:
    """The consultation's case (opened on first use), then its page."""
    session = await require_staff(request)
    consultation_id = request.match_info["id"]
    case = await records.case_of_consultation(cases.context(request.app), session.staff, consultation_id)
    url = request.app.router["case"].url_for(id=case.id).with_query(consultation=consultation_id)
    return see_other(str(url))


# -- the page ----------------------------------------------------------------------------------------------------


async def case_page(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    values = {"consultation_id": request.query.get("consultation", "")}
    return await _page(request, session, {}, values, done=request.query.get("done", ""))


async def _page(
    request: web.Request,
    session: SessionInfo,
    errors: dict[str, str],
    values: dict[str, str],
    *,
    status: int = 200,
    done: str = "",
) -> web.Response:
    staff, case_id = session.staff, request.match_info["id"]
    found = await records.read_case(cases.context(request.app), staff, case_id)
    maker = request.app[sessionmaker_key]
    people = await staff_lists.everyone(maker)
    all_services = await directory.services(maker, active_only=False)
    relation: Relation = "worker" if staff.id in found.workers else "other"
    see_all = cases.context(request.app).settings.supervisors_see_all_cases
    may = {a.value: allowed(staff.role, a, relation, supervisors_see_all=see_all) for a in SHOWN_ACTIONS}
    case = found.case
    context = {
        "file": found,
        "case": case,
        "may": may,
        "names": {p.id: p.name for p in people},
        "service_names": {s.id: s.name for s in all_services},
        "local_services": [s for s in all_services if s.active],
        "specialists": _by_discipline([p for p in people if p.active and p.role in CLINICIANS]),
        "colleagues": [p for p in people if p.active and p.role in CLINICIANS and p.id not in found.workers],
        "high": RiskLevel.HIGH in (case.risk_self, case.risk_others),
        "steps": records.SAFETY_STEPS,
        "steps_done": {s.action: s for s in found.safety},
        "follow_up": await _follow_up_url(request, staff, case_id),
        "reasons": list(Reason),
        "channels": list(Channel),
        "levels": list(RiskLevel),
        "kinds": list(OutcomeKind),
        "errors": errors,
        "values": values,
        "done": done,
    }
    return page("case.html", request, context, status=status)


def _by_discipline(people: list[Staff]) -> list[tuple[str, list[Staff]]]:
    groups: dict[str, list[Staff]] = {}
    for person in people:
        groups.setdefault(person.discipline, []).append(person)
    return sorted(groups.items(), key=lambda item: (item[0] == "", item[0].lower()))


async def _follow_up_url(request: web.Request, staff: Staff, case_id: str) -> str | None:
    router = request.app.router
    if staff.role in FOLLOW_UP_ROLES:
        consultation_id = await records.latest_consultation(cases.context(request.app), staff, case_id)
        if consultation_id is not None:
            return str(router["follow_up"].url_for(id=consultation_id))
    return str(router["switchboard"].url_for()) if staff.role in SWITCHBOARD_ROLES else None


async def _consultation(request: web.Request, staff: Staff, case_id: str, form: Form) -> str | None:
    """The consultation the form came from, if it is one of this person's consultations of this case."""
    wanted = str(form.get("consultation_id", "")).strip()
    return await records.own_consultation(cases.context(request.app), staff, case_id, wanted)


# -- the forms ---------------------------------------------------------------------------------------------------


def _choice(kind: type[E], raw: object) -> E | None:
    try:
        return kind(str(raw or ""))
    except ValueError:
        return None


def _shown(exc: InvalidInput) -> dict[str, str]:
    return {field: RECORDS_ERRORS.get((field, key), key) for field, key in exc.fields.items()} or {"form": "invalid"}


async def _posted(request: web.Request) -> tuple[SessionInfo, Form, str]:
    session = await require_staff(request)
    form = await checked_form(request, session)
    return session, form, request.match_info["id"]


def _back(request: web.Request, case_id: str, done: str, consultation_id: str | None = None) -> web.Response:
    query = {"done": done, **({"consultation": consultation_id} if consultation_id else {})}
    url = request.app.router["case"].url_for(id=case_id).with_query(query)
    anchor = "safety" if done == "risk_high" else done.split("_")[0]
    return see_other(f"{url}#{anchor}")


def _typed(form: Form, *names: str) -> dict[str, str]:
    return {name: str(form.get(name, "")) for name in names}


async def intake_submit(request: web.Request) -> web.StreamResponse:
    session, form, case_id = await _posted(request)
    values = _typed(form, "reason", "channel", "consultation_id")
    reason, channel = _choice(Reason, values["reason"]), _choice(Channel, values["channel"])
    if reason is None or channel is None:
        errors = {k: "pick_one" for k, v in (("reason", reason), ("channel", channel)) if v is None}
        return await _page(request, session, errors, values, status=400)
    await records.set_intake(cases.context(request.app), session.staff, case_id, reason, channel)
    return _back(request, case_id, "intake", await _consultation(request, session.staff, case_id, form))


async def risk_submit(request: web.Request) -> web.StreamResponse:
    session, form, case_id = await _posted(request)
    values = _typed(form, "self_harm", "others", "consultation_id")
    self_harm, others = _choice(RiskLevel, values["self_harm"]), _choice(RiskLevel, values["others"])
    if self_harm is None or others is None:
        errors = {k: "pick_one" for k, v in (("self_harm", self_harm), ("others", others)) if v is None}
        return await _page(request, session, errors, values, status=400)
    consultation_id = await _consultation(request, session.staff, case_id, form)
    ctx = cases.context(request.app)
    await records.assess_risk(ctx, session.staff, case_id, self_harm, others, consultation_id)
    high = RiskLevel.HIGH in (self_harm, others)
    if high:
        await _alert_supervisors(request, session.staff, case_id)
    return _back(request, case_id, "risk_high" if high else "risk", consultation_id)


async def _alert_supervisors(request: web.Request, staff: Staff, case_id: str) -> None:
    """The on-duty supervisors' consoles get the case code (never a name) at once. The code is read through
    ``records`` like every case read (one more audited read)."""
    found = await records.read_case(cases.context(request.app), staff, case_id)
    alerts.high_risk(request.app, case_id=case_id, code=found.case.code, by=staff.name)


async def note_submit(request: web.Request) -> web.StreamResponse:
    session, form, case_id = await _posted(request)
    values = _typed(form, "note", "consultation_id")
    consultation_id = await _consultation(request, session.staff, case_id, form)
    try:
        await records.write_note(cases.context(request.app), session.staff, case_id, values["note"], consultation_id)
    except InvalidInput as exc:
        return await _page(request, session, _shown(exc), values, status=400)
    return _back(request, case_id, "note", consultation_id)


async def outcome_submit(request: web.Request) -> web.StreamResponse:
    session, form, case_id = await _posted(request)
    values = _typed(form, "kind", "specialist_id", "local_service_id", "consultation_id")
    kind = _choice(OutcomeKind, values["kind"])
    if kind is None:
        return await _page(request, session, {"kind": "pick_one"}, values, status=400)
    consultation_id = await _consultation(request, session.staff, case_id, form)
    try:
        await records.record_outcome(
            cases.context(request.app), session.staff, case_id, kind,
            specialist_id=values["specialist_id"] or None,
            local_service_id=values["local_service_id"] or None,
            consultation_id=consultation_id,
        )  # fmt: skip
    except InvalidInput as exc:
        return await _page(request, session, _shown(exc), values, status=400)
    return _back(request, case_id, f"outcome_{kind.value}", consultation_id)


async def safety_submit(request: web.Request) -> web.StreamResponse:
    session, form, case_id = await _posted(request)
    step = str(form.get("step", ""))
    try:
        await records.record_safety_step(cases.context(request.app), session.staff, case_id, step)
    except InvalidInput as exc:
        return await _page(request, session, _shown(exc), {"step": step}, status=400)
    return _back(request, case_id, "safety", await _consultation(request, session.staff, case_id, form))


async def share_submit(request: web.Request) -> web.StreamResponse:
    session, form, case_id = await _posted(request)
    values = _typed(form, "staff_id", "consultation_id")
    if not values["staff_id"]:
        return await _page(request, session, {"staff_id": "colleague"}, values, status=400)
    try:
        await records.share_case(cases.context(request.app), session.staff, case_id, values["staff_id"])
    except InvalidInput as exc:
        return await _page(request, session, _shown(exc), values, status=400)
    return _back(request, case_id, "share", await _consultation(request, session.staff, case_id, form))


async def flag_submit(request: web.Request) -> web.StreamResponse:
    session, form, case_id = await _posted(request)
    flagged = form.get("flagged") == "1"
    await records.flag_case(cases.context(request.app), session.staff, case_id, flagged)
    done = "flag" if flagged else "unflag"
    return _back(request, case_id, done, await _consultation(request, session.staff, case_id, form))


async def merge_submit(request: web.Request) -> web.StreamResponse:
    """Merge a suggested possible duplicate into this case (:mod:`server.cases.merging` checks both cases)."""
    session, form, case_id = await _posted(request)
    suggestion = str(form.get("suggestion", ""))
    await merging.merge(cases.context(request.app), session.staff, case_id, suggestion)
    return _back(request, case_id, "suggestion_merged", await _consultation(request, session.staff, case_id, form))


async def dismiss_submit(request: web.Request) -> web.StreamResponse:
    session, form, case_id = await _posted(request)
    suggestion = str(form.get("suggestion", ""))
    await merging.dismiss(cases.context(request.app), session.staff, case_id, suggestion)
    return _back(request, case_id, "suggestion_dismissed", await _consultation(request, session.staff, case_id, form))
