"""The coordinator's audit pages: the audit log with filters (``GET /audit``), and a citizen's rights
(``/audit/citizen``): the accesses to their data as a page, CSV or JSON, the export of their data (JSON) and the
anonymisation of a case (after a confirmation step). A citizen's email or phone is only ever posted (with the CSRF
token), never put in a URL, so it stays out of access logs and browser history."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import date

from aiohttp import web

from server import cases
from server.auth import SessionInfo
from server.cases import rights
from server.cases.policy import Action
from server.errors import InvalidInput
from web.csv_cells import safe_cell
from web.guard import Form, checked_form, require_staff
from web.render import page, see_other

MAX_FILTER = 80
FILTERS = ("actor", "action", "object_type", "case", "since", "until", "page")


def _parse_day(raw: str, field: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = "bad_date"
        return None


def parse_query(params: Mapping[str, str]) -> tuple[rights.AuditQuery, dict[str, str], dict[str, str]]:
    """The filters, the values as given (for the form) and the field errors (empty when all is well)."""
    values = {k: params.get(k, "").strip() for k in FILTERS}
    errors = {k: "too_long" for k in FILTERS if len(values[k]) > MAX_FILTER}
    since = _parse_day(values["since"], "since", errors)
    until = _parse_day(values["until"], "until", errors)
    if since and until and until < since:
        errors["until"] = "range_order"
    page_number = 1
    if values["page"]:
        if not values["page"].isdigit() or not 1 <= int(values["page"]) <= 100_000:
            errors["page"] = "out_of_range"
        else:
            page_number = int(values["page"])
    query = rights.AuditQuery(
        actor=values["actor"],
        action=values["action"],
        object_type=values["object_type"],
        case_code=values["case"],
        since=since,
        until=until,
        page=page_number,
    )
    return query, values, errors


async def audit_log(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    ctx = cases.context(request.app)
    await rights.may(ctx, session.staff, Action.AUDIT)
    query, values, errors = parse_query(request.query)
    found: rights.AuditPage | None = None
    if not errors:
        try:
            found = await rights.search_audit(ctx, session.staff, query)
        except InvalidInput as exc:
            errors = dict(exc.fields) or {"filters": "invalid"}
    context: dict[str, object] = {"found": found, "values": values, "errors": errors, "prev": None, "next": None}
    if found is not None:
        context["prev"] = _page_link(request, values, found.page - 1) if found.page > 1 else None
        context["next"] = _page_link(request, values, found.page + 1) if found.has_next else None
    return page("audit.html", request, context, status=400 if errors else 200)


def _page_link(request: web.Request, values: dict[str, str], number: int) -> str:
    query = {k: v for k, v in values.items() if v and k != "page"} | {"page": str(number)}
    return str(request.app.router["audit"].url_for().with_query(query))


async def citizen_form(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    await rights.may(cases.context(request.app), session.staff, Action.AUDIT)
    done = request.query.get("done", "")[:12] or None  # a case code, after an anonymisation
    return page("audit_citizen.html", request, {"accesses": None, "contact": "", "error": None, "done": done})


async def _posted(request: web.Request) -> tuple[SessionInfo, Form]:
    session = await require_staff(request)
    return session, await checked_form(request, session)


def _download(body: str, content_type: str, name: str) -> web.Response:
    return web.Response(
        text=body,
        content_type=content_type,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def accesses_csv(rows: Sequence[Mapping[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(rights.ACCESS_COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(row[k]) for k in rights.ACCESS_COLUMNS])
    return out.getvalue()


async def citizen_accesses(request: web.Request) -> web.StreamResponse:
    """POST: the accesses to one citizen's data, as a page (``format=html``), CSV or JSON."""
    session, form = await _posted(request)
    contact, kind = str(form.get("contact", "")), str(form.get("format", "html"))
    ctx = cases.context(request.app)
    try:
        accesses = await rights.citizen_accesses(ctx, session.staff, contact)
    except InvalidInput as exc:
        failed = {"accesses": None, "contact": contact, "error": exc.message, "done": None}
        return page("audit_citizen.html", request, failed, status=400)
    rows = rights.access_records(accesses)
    if kind == "csv":
        return _download(accesses_csv(rows), "text/csv", "accesses.csv")
    if kind == "json":
        body = json.dumps({"cases": [code for _, code in accesses.cases], "accesses": rows}, indent=1)
        return _download(body, "application/json", "accesses.json")
    context: dict[str, object] = {"accesses": accesses, "rows": rows, "contact": contact, "error": None, "done": None}
    return page("audit_citizen.html", request, context)


async def citizen_export(request: web.Request) -> web.StreamResponse:
    """POST: everything the service holds about the citizen, as a JSON download."""
    session, form = await _posted(request)
    ctx = cases.context(request.app)
    contact = str(form.get("contact", ""))
    try:
        document = await rights.export_citizen(ctx, session.staff, contact)
    except InvalidInput as exc:
        context = {"accesses": None, "contact": contact, "error": exc.message, "done": None}
        return page("audit_citizen.html", request, context, status=400)
    return _download(json.dumps(document, indent=1, ensure_ascii=False), "application/json", "citizen-data.json")


async def citizen_anonymise(request: web.Request) -> web.StreamResponse:
    """POST: without ``confirm=yes``, the confirmation page; with it, the case is anonymised."""
    session, form = await _posted(request)
    ctx = cases.context(request.app)
    await rights.may(ctx, session.staff, Action.ANONYMISE)
    case_id, code = str(form.get("case_id", "")), str(form.get("code", ""))
    if form.get("confirm") != "yes":
        return page("audit_confirm.html", request, {"case_id": case_id, "code": code})
    case = await rights.anonymise_citizen(ctx, session.staff, case_id)
    done = request.app.router["audit_citizen"].url_for().with_query(done=case.code)
    return see_other(str(done))
