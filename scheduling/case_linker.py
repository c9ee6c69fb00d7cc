"""The case linker, run in-process from ``cleanup_ctx``: every LINK_SECONDS, bookings and consultations not yet in
a case are linked to one (:func:`server.cases.linking.link_pending`), so every contact belongs to a case shortly
after it is made, without the booking itself waiting for it. Cancelled and awaited at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import suppress

from aiohttp import web

from server.cases.linking import link_pending
from server.keys import sessionmaker_key

log = logging.getLogger(__name__)

LINK_SECONDS = 30.0


async def link_loop(app: web.Application, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            while await link_pending(app[sessionmaker_key]):
                pass  # a full batch: go on until nothing is left
        except Exception as exc:
            log.warning("case linking failed: %s", type(exc).__name__)


def case_linker(interval: float = LINK_SECONDS) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the linker (after ``database_ctx``)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(link_loop(app, interval), name="case-linker")
        yield
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    return ctx


case_linker_ctx = case_linker()
