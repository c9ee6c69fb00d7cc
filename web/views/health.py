"""``GET /healthz``: is the server up, and can it reach its database?"""

from __future__ import annotations

from aiohttp import web

from server.db import database_ok
from server.keys import engine_key


async def healthz(request: web.Request) -> web.Response:
    ok = await database_ok(request.app[engine_key])
    body = {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unavailable"}
    return web.json_response(body, status=200 if ok else 503)
