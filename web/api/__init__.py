"""The JSON API under ``/api/v1``: services, free slots, bookings, and its OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from web.api import views
from web.api.ratelimit import default_limiter, limiter_key

PREFIX = "/api/v1"


def setup_api(app: web.Application) -> None:
    app[limiter_key] = default_limiter()
    router = app.router
    router.add_get(f"{PREFIX}/services", views.services, name="api_services")
    router.add_get(f"{PREFIX}/services/{{slug}}/slots", views.slots, name="api_slots")
    router.add_post(f"{PREFIX}/bookings", views.create_booking, name="api_bookings")
    router.add_delete(f"{PREFIX}/bookings/{{manage_token}}", views.cancel_booking, name="api_booking")
    router.add_post(f"{PREFIX}/bookings/{{manage_token}}/move", views.move_booking, name="api_booking_move")
    router.add_get(f"{PREFIX}/openapi.json", views.openapi, name="api_openapi")
