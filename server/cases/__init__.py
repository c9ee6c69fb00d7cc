"""Case work: the access rules (:mod:`server.cases.policy`), the audited reads and writes of case data
(:mod:`server.cases.records`), the team review (:mod:`server.cases.review`) and the rotation of the notes key
(:mod:`server.cases.rotation`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from server.cases.records import Context
from server.keys import keyring_key, sessionmaker_key, settings_key
from server.sealing import load_keyring


async def keyring_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: load the notes keyring at startup (making the key file on a first start)."""
    app[keyring_key] = load_keyring(app[settings_key])
    yield


def context(app: web.Application) -> Context:
    """What the case functions need, from the running application."""
    return Context(app[sessionmaker_key], app[settings_key], app[keyring_key])
