"""The scheduling pages' URL map, added to the app's by ``web.routes.setup_routes``."""

from __future__ import annotations

from aiohttp import web

from web.views import agenda, availability, booking_pages, coordinator, meetings, switchboard


def add_routes(router: web.UrlDispatcher) -> None:
    _settings_routes(router)
    _booking_routes(router)


def _settings_routes(router: web.UrlDispatcher) -> None:
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
    # Recurring team meetings (supervisor, coordinator)
    router.add_get("/console/meetings", meetings.meetings_page, name="meetings")
    router.add_post("/console/meetings", meetings.meeting_create, name="meeting_create")
    router.add_get("/console/meetings/{id}", meetings.meeting, name="meeting")
    router.add_post("/console/meetings/{id}/change", meetings.meeting_change, name="meeting_change")
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


def _booking_routes(router: web.UrlDispatcher) -> None:
    # The operator's agenda: day and week, cancel and move; a follow-up from a consultation
    router.add_get("/console/agenda", agenda.agenda, name="agenda")
    router.add_get("/console/agenda/{id}/cancel", agenda.cancel_confirm, name="agenda_cancel_confirm")
    router.add_post("/console/agenda/{id}/cancel", agenda.cancel, name="agenda_cancel")
    router.add_get("/console/agenda/{id}/move", agenda.move_form, name="agenda_move")
    router.add_post("/console/agenda/{id}/move", agenda.move_submit, name="agenda_move_submit")
    router.add_get("/console/consultations/{id}/follow-up", switchboard.follow_up, name="follow_up")
    router.add_post("/console/consultations/{id}/follow-up", switchboard.follow_up_book, name="follow_up_book")
    # The switchboard books on a caller's behalf
    router.add_get("/console/switchboard", switchboard.switchboard, name="switchboard")
    router.add_post("/console/switchboard", switchboard.switchboard_book, name="switchboard_book")
    # Citizens: the public booking page and the manage link
    router.add_get("/book", booking_pages.services, name="book")
    router.add_get("/book/{slug}", booking_pages.service, name="book_service")
    router.add_post("/book/{slug}", booking_pages.submit, name="book_submit")
    router.add_get("/booking/{token}", booking_pages.manage, name="booking_manage")
    router.add_post("/booking/{token}/cancel", booking_pages.manage_cancel, name="booking_cancel")
    router.add_post("/booking/{token}/move", booking_pages.manage_move, name="booking_move")
