"""The composition root: ``create_app(settings)`` wires the four packages together (the database, the notes
keyring, the signaling endpoints, the pages and the background jobs). It stands above them, beside ``run.py`` and
``cli.py``: nothing in ``server``, ``signaling``, ``scheduling`` or ``web`` imports it. Nothing runs at import
time."""

from __future__ import annotations

from aiohttp import web

import scheduling.jobs
import signaling
import web as web_ui
from server.cases import keyring_ctx, linker, retention
from server.db import database_ctx
from server.keys import settings_key
from server.middleware import on_response_prepare, security_headers
from server.settings import Settings

# A signaling message may be 64 KiB; form posts are far smaller. This caps request bodies.
MAX_REQUEST_BYTES = 256 * 1024


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, *web_ui.middlewares()],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[settings_key] = settings
    app.on_response_prepare.append(on_response_prepare)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(keyring_ctx)
    signaling.setup(app)
    web_ui.setup(app)
    app.cleanup_ctx.append(scheduling.jobs.jobs_ctx)
    app.cleanup_ctx.append(retention.retention_ctx)
    app.cleanup_ctx.append(linker.case_linker_ctx)
    return app
