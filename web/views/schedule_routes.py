"""The scheduling pages' URL map, added to the app's by ``web.routes.setup_routes``."""

from __future__ import annotations

from aiohttp import web

from web.views import availability, coordinator


def add_routes(router: web.UrlDispatcher) -> None:
    # Coordinator: services, their rules, hours and closures; the outbox
    router.add_get("/console/services", coordinator.services, name="schedule_services")
    router.add_post("/console/services", coordinator.service_create, name="schedule_service_create")
    router.add_get("/console/services/{id}", coordinator.service, name="schedule_service")
    router.add_post("/console/services/{id}/rules", coordinator.service_rules, name="schedule_service_rules")
    router.add_post("/console/services/{id}/hours", coordinator.service_hours, name="schedule_service_hours")
    router.add_post("/console/services/{id}/closures", coordinator.closure_add, name="schedule_closure_add")
    router.add_post(
        "/console/services/{id}/closures/{closure}/delete", coordinator.closure_remove, name="schedule_closure_remove"
    )
    router.add_get("/console/outbox", coordinator.outbox, name="outbox")
    router.add_get("/console/outbox/{id}", coordinator.outbox_message, name="outbox_message")
    # Operators' availability (the coordinator's, or an operator's own)
    router.add_get("/console/availability", availability.availability_list, name="availability_list")
    router.add_get("/console/availability/{staff_id}", availability.availability, name="availability")
    router.add_post(
        "/console/availability/{staff_id}/weekly", availability.availability_weekly, name="availability_weekly"
    )
    router.add_post(
        "/console/availability/{staff_id}/overrides", availability.override_add, name="availability_override_add"
    )
    router.add_post(
        "/console/availability/{staff_id}/overrides/{override}/delete",
        availability.override_remove,
        name="availability_override_remove",
    )
