"""Background work in the server process: one loop, written once, for every job that runs every so often.

:func:`periodic` runs ``work`` every ``interval`` seconds until cancelled; a failed round is logged by its
exception's class name only (never its text, which may hold data) and the next round tries again.
:func:`running` holds it in a task for the time of an ``async with`` block, and :func:`periodic_ctx` makes an
aiohttp cleanup context of it: the task starts with the application and is cancelled and awaited at shutdown.
The outbox sender, the retention job and the case linker are built on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from aiohttp import web

log = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


async def periodic(what: str, interval: float, work: Callable[[], Awaitable[object]], *, at_start: bool = True) -> None:
    """Run ``work()`` every ``interval`` seconds until cancelled: first at once when ``at_start``, else after one
    interval. ``what`` names the job in the log line of a failed round (``"<what> failed: <class name>"``)."""
    if not at_start:
        await asyncio.sleep(interval)
    while True:
        try:
            await work()
        except Exception as exc:
            log.warning("%s failed: %s", what, type(exc).__name__)
        await asyncio.sleep(interval)


@asynccontextmanager
async def running(
    name: str, what: str, interval: float, work: Callable[[], Awaitable[object]], *, at_start: bool = True
) -> AsyncIterator[None]:
    """:func:`periodic` in a task named ``name`` for the time of the ``async with`` block; cancelled and awaited
    when the block ends."""
    task = asyncio.create_task(periodic(what, interval, work, at_start=at_start), name=name)
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def periodic_ctx(
    name: str,
    what: str,
    interval: float,
    work: Callable[[web.Application], Awaitable[object]],
    *,
    at_start: bool = True,
) -> CleanupContext:
    """A cleanup context running ``work(app)`` periodically (:func:`running`) while the application runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with running(name, what, interval, lambda: work(app), at_start=at_start):
            yield

    return ctx
