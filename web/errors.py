"""The one error middleware: domain errors and HTTP errors become calm pages (or JSON for the API)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from server.errors import AscoltoError, TooManyAttempts
from server.logs import redact_path
from web.render import render

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/ws", "/healthz")


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.headers.get("Accept", "").startswith("application/json")


def _page(request: web.Request, status: int, message: str = "") -> web.Response:
    response = render("error.html", request, {"status": status, "message": message}, status=status)
    return response


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AscoltoError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else {}
        if _wants_json(request):
            body: dict[str, object] = {"error": exc.code, "message": exc.message}
            if getattr(exc, "fields", None):
                body["fields"] = exc.fields  # type: ignore[attr-defined]
            return web.json_response(body, status=exc.status, headers=headers)
        response = _page(request, exc.status)
        response.headers.update(headers)
        return response
    except web.HTTPException as exc:
        if exc.status < 400 or exc.empty_body or _wants_json(request):
            raise
        return _page(request, exc.status, exc.text or "" if exc.status == 403 else "")
    except Exception:
        # Log the failure (never the request's data) and show a calm page instead of a stack trace.
        log.exception("unhandled error", extra={"path": redact_path(request.path), "method": request.method})
        if _wants_json(request):
            return web.json_response({"error": "internal_error"}, status=500)
        return _page(request, 500)
