"""The service-wide case pages: the team review queue (supervisors decide, coordinators see it) and the directory
of local services the coordinator keeps. Access is :mod:`server.cases.policy`'s to say: the queue is refused by
:func:`server.cases.review.review_queue`, the directory by :mod:`server.cases.directory`."""

from __future__ import annotations

from aiohttp import web

from server import cases
from server.auth import SessionInfo
from server.cases import directory, review
from server.cases.policy import Action, allowed
from server.errors import Forbidden, InvalidInput
from server.keys import sessionmaker_key
from server.models import Role
from web.guard import checked_form, require_role, require_staff
from web.render import page, see_other

DIRECTORY_FIELDS = tuple(directory.LIMITS)


# -- the team review ---------------------------------------------------------------------------------------------


async def review_page(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    return await _review(request, session, {}, {}, done=request.query.get("done", ""))


async def _review(
    request: web.Request,
    session: SessionInfo,
    errors: dict[str, str],
    values: dict[str, str],
    *,
    status: int = 200,
    done: str = "",
) -> web.Response:
    queue = await review.review_queue(cases.context(request.app), session.staff)
    context = {
        "queue": queue,
        "may_decide": allowed(session.staff.role, Action.REVIEW_DECIDE, "other"),
        "may_open": session.staff.role == Role.SUPERVISOR,
        "errors": errors,  # case id -> error key
        "values": values,  # case id -> the decision typed
        "done": done,
    }
    return page("case_review.html", request, context, status=status)


async def decide_submit(request: web.Request) -> web.StreamResponse:
    session = await require_staff(request)
    form = await checked_form(request, session)
    case_id = request.match_info["id"]
    text = str(form.get("decision", ""))
    try:
        await review.decide(cases.context(request.app), session.staff, case_id, text)
    except InvalidInput as exc:
        key = exc.fields.get("decision", "required")
        return await _review(request, session, {case_id: key}, {case_id: text}, status=400)
    return see_other(str(request.app.router["case_review"].url_for().with_query(done="decided")))


# -- the directory of local services -----------------------------------------------------------------------------


async def _coordinator(request: web.Request) -> SessionInfo:
    session = await require_role(request, Role.COORDINATOR)
    if not allowed(session.staff.role, Action.DIRECTORY, "other"):
        raise Forbidden("the directory of local services is the coordinator's")
    return session


async def directory_page(request: web.Request) -> web.StreamResponse:
    await _coordinator(request)
    return await _directory(request, {}, {}, done=request.query.get("done", ""))


async def _directory(
    request: web.Request,
    errors: dict[str, str],
    values: dict[str, str],
    *,
    editing: str = "",
    status: int = 200,
    done: str = "",
) -> web.Response:
    context = {
        "services": await directory.services(request.app[sessionmaker_key], active_only=False),
        "fields": DIRECTORY_FIELDS,
        "limits": directory.LIMITS,
        "errors": errors,
        "values": values,
        "editing": editing,  # the service whose edit form has the errors ("" for the add form)
        "done": done,
    }
    return page("case_directory.html", request, context, status=status)


def _back(request: web.Request, done: str) -> web.Response:
    return see_other(str(request.app.router["case_directory"].url_for().with_query(done=done)))


async def directory_add(request: web.Request) -> web.StreamResponse:
    session = await _coordinator(request)
    form = await checked_form(request, session)
    values = {name: str(form.get(name, "")) for name in DIRECTORY_FIELDS}
    try:
        await directory.add(request.app[sessionmaker_key], session.staff, directory.parse(values))
    except InvalidInput as exc:
        return await _directory(request, exc.fields, values, status=400)
    return _back(request, "added")


async def directory_edit(request: web.Request) -> web.StreamResponse:
    session = await _coordinator(request)
    form = await checked_form(request, session)
    service_id = request.match_info["id"]
    values = {name: str(form.get(name, "")) for name in DIRECTORY_FIELDS}
    try:
        fields = directory.parse(values)
    except InvalidInput as exc:
        return await _directory(request, exc.fields, values, editing=service_id, status=400)
    await directory.update(request.app[sessionmaker_key], session.staff, service_id, fields)
    return _back(request, "saved")


async def directory_active(request: web.Request) -> web.StreamResponse:
    session = await _coordinator(request)
    form = await checked_form(request, session)
    active = form.get("active") == "1"
    await directory.set_active(request.app[sessionmaker_key], session.staff, request.match_info["id"], active)
    return _back(request, "activated" if active else "deactivated")
