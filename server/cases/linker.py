"""The case linker, run in-process from ``cleanup_ctx``: every LINK_SECONDS, bookings and consultations not yet in
a case are linked to one (:func:`server.cases.linking.link_pending`), so every contact belongs to a case shortly
after it is made, without the booking itself waiting for it. Cancelled and awaited at shutdown."""

from __future__ import annotations

from aiohttp import web

from server.cases.linking import link_pending
from server.keys import sessionmaker_key
from server.periodic import CleanupContext, periodic_ctx

LINK_SECONDS = 30.0


async def link_all(app: web.Application) -> None:
    """Link until nothing is left (a full batch means there may be more)."""
    while await link_pending(app[sessionmaker_key]):
        pass


def case_linker(interval: float = LINK_SECONDS) -> CleanupContext:
    """A cleanup context running the linker (after ``database_ctx``), first one interval after start."""
    return periodic_ctx("case-linker", "case linking", interval, link_all, at_start=False)


case_linker_ctx = case_linker()
