"""Booking from the citizen's side: the free slots of a service, and one booking as each way in takes it -- the domain
(:func:`booking_request`), the JSON API (:func:`booking_body`) and the public page (:func:`public_form`,
:func:`booking_form`, the links on the confirmation page)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from scheduling.availability import free_slots_for
from scheduling.booking import BookingRequest
from scheduling.slots import Slot, local_day
from server.clock import today
from server.keys import sessionmaker_key
from server.models import Service, utcnow
from tests.helpers.web import Client, csrf_from

SLOT = re.compile(r'name="slot" value="([^"]+)"')
JOIN = re.compile(r'id="join-link"[^>]*(?:href|value)="(http://[^"]+/join/[^"]+)"')
MANAGE = re.compile(r'id="manage-link" href="http://[^"]+(/booking/[^"]+)"')


async def free(app: web.Application, service: Service) -> list[Slot]:
    return await free_slots_for(app[sessionmaker_key], service, utcnow())


def full_day(slots: list[Slot], at_least: int = 4) -> list[Slot]:
    """The slots of the first local day with at least ``at_least`` of them (today may be nearly over)."""
    by_day: dict[object, list[Slot]] = {}
    for slot in slots:
        by_day.setdefault(local_day(slot.starts_at), []).append(slot)
    return next(day for day in by_day.values() if len(day) >= at_least)


def booking_request(service: Service, at: datetime, **fields: Any) -> BookingRequest:
    """Maria's online booking of ``service`` at ``at``, as the domain takes it."""
    values: dict[str, Any] = {
        "service": service.slug,
        "starts_at": at,
        "mode": "video",
        "citizen_name": "Maria",
        "citizen_email": "maria@example.org",
        "privacy_accepted": True,
    }
    values.update(fields)
    return BookingRequest(**values)


def booking_body(slot: Slot | str, **fields: Any) -> dict[str, Any]:
    """Maria's booking of the "ascolto" service as the JSON API takes it (a field given as None is left out)."""
    values: dict[str, Any] = {
        "service": "ascolto",
        "starts_at": slot if isinstance(slot, str) else slot.starts_at.isoformat(),
        "mode": "video",
        "citizen_name": "Maria",
        "citizen_email": "maria@example.org",
        "privacy_accepted": True,
    }
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}


def slots_in(html: str) -> list[str]:
    return SLOT.findall(html)


def tomorrow() -> str:
    """Tomorrow in Rome: a whole day of free slots, whatever the hour the test runs at."""
    return (today() + timedelta(days=1)).isoformat()


async def public_form(client: Client, slug: str = "emergenza", day: str = "") -> tuple[str, list[str]]:
    """The public booking page of ``slug``: its CSRF token and the slots it offers."""
    page = await client.get(f"/book/{slug}" + (f"?day={day}" if day else ""))
    assert page.status == 200
    html = await page.text()
    return csrf_from(html), slots_in(html)


def booking_form(csrf: str, slot: str, **extra: str) -> dict[str, str]:
    """Luca's booking of ``slot`` as the public page's form posts it."""
    data = {"csrf_token": csrf, "slot": slot, "mode": "video", "citizen_name": "Luca", "privacy_accepted": "on"}
    data.update({"citizen_email": "luca@example.org", **extra})
    return data
