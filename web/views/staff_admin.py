"""The coordinator's staff page: every member, their role, whether active, whether enrolled in MFA; change a
role, disable or enable an account, reset a second factor (:mod:`server.staff_admin`, each action audited)."""

from __future__ import annotations

from aiohttp import web

from server import actors, staff_admin
from server.errors import InvalidInput
from server.keys import sessionmaker_key, settings_key
from server.models import Role
from web.guard import checked_form, require_role
from web.render import render, see_other


async def _page(
    request: web.Request, *, errors: dict[str, str] | None = None, target: str = "", status: int = 200
) -> web.Response:
    rows = await staff_admin.list_staff(request.app[sessionmaker_key])
    context = {
        "rows": rows,
        "roles": [role.value for role in Role],
        "mfa_roles": request.app[settings_key].mfa_roles,
        "errors": errors or {},
        "target": target,  # the member whose form has the errors
        "done": request.query.get("done", ""),
    }
    return render("staff_admin.html", request, context, status=status)


def _done(request: web.Request, what: str) -> web.Response:
    return see_other(str(request.app.router["staff_admin"].url_for().with_query(done=what)))


async def staff_page(request: web.Request) -> web.StreamResponse:
    await require_role(request, Role.COORDINATOR)
    return await _page(request)


async def role_submit(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.COORDINATOR)
    form = await checked_form(request, session)
    staff_id, role = request.match_info["id"], form.get("role", "")
    try:
        await staff_admin.change_role(
            request.app[sessionmaker_key],
            actors.staff(session.staff.id),
            staff_id,
            role if isinstance(role, str) else "",
        )
    except InvalidInput as exc:
        return await _page(request, errors=exc.fields, target=staff_id, status=400)
    return _done(request, "role")


async def active_submit(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.COORDINATOR)
    form = await checked_form(request, session)
    staff_id, active = request.match_info["id"], form.get("active", "")
    if active not in ("0", "1"):
        return await _page(request, errors={"active": "unknown"}, target=staff_id, status=400)
    try:
        await staff_admin.set_active(
            request.app[sessionmaker_key], actors.staff(session.staff.id), staff_id, active == "1"
        )
    except InvalidInput as exc:
        return await _page(request, errors=exc.fields, target=staff_id, status=400)
    return _done(request, "active")


async def mfa_reset_submit(request: web.Request) -> web.StreamResponse:
    session = await require_role(request, Role.COORDINATOR)
    await checked_form(request, session)
    await staff_admin.reset_mfa(request.app[sessionmaker_key], actors.staff(session.staff.id), request.match_info["id"])
    return _done(request, "mfa")
