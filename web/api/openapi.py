"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``; a test checks it covers every
route). Written by hand, next to the handlers it describes: short enough to read, and exact about errors."""

from __future__ import annotations

from collections.abc import Mapping

from server.clock import TIMEZONE
from web.api.payload import MAX_BODY, MAX_DAYS
from web.api.ratelimit import BOOKINGS_PER_MINUTE, SLOT_QUERIES_PER_MINUTE

VERSION = "1.0.0"
Schema = dict[str, object]  # a piece of the OpenAPI document (JSON)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Mapping[str, object], description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> Schema:
    return {"$ref": "#/components/responses/Error", "description": description}


def _limited(description: str) -> Schema:
    return {
        "description": description,
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
        "content": {"application/json": {"schema": _ref("Error")}},
    }


STRING = {"type": "string"}
INSTANT = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601 (e.g. 2026-12-01T08:30:00Z)"}
LOCAL = {"type": "string", "format": "date-time", "description": f"The same instant in {TIMEZONE} time"}

SCHEMAS: Schema = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "A stable code, e.g. invalid_input, slot_taken"},
            "message": STRING,
            "fields": {"type": "object", "additionalProperties": STRING, "description": "field -> reason"},
        },
    },
    "Service": {
        "type": "object",
        "required": ["slug", "name", "session_minutes", "modes"],
        "properties": {
            "slug": STRING,
            "name": STRING,
            "description": STRING,
            "phone": STRING,
            "session_minutes": {"type": "integer"},
            "modes": {"type": "array", "items": {"type": "string", "enum": ["video", "phone"]}},
            "bookable_online": {"type": "boolean"},
        },
    },
    "Slot": {
        "type": "object",
        "required": ["starts_at", "ends_at", "local", "operators"],
        "properties": {
            "starts_at": INSTANT,
            "ends_at": INSTANT,
            "local": LOCAL,
            "operators": {"type": "integer", "description": "How many operators are free (never who)"},
            "operator_ids": {"type": "array", "items": STRING, "description": "Staff sessions only"},
        },
    },
    "BookingRequest": {
        "type": "object",
        "required": ["service", "starts_at", "citizen_name"],
        "additionalProperties": False,
        "properties": {
            "service": {"type": "string", "description": "The service's slug"},
            "starts_at": {**INSTANT, "description": "A slot's starts_at"},
            "mode": {"type": "string", "enum": ["video", "phone"], "default": "video"},
            "citizen_name": {"type": "string", "maxLength": 200, "description": "A name or an alias"},
            "citizen_email": {"type": "string", "description": "An email or a phone is required"},
            "citizen_phone": STRING,
            "privacy_accepted": {"type": "boolean", "description": "Required (true) when the citizen books"},
            "verbal_consent": {"type": "boolean", "description": "Required (true) when staff book for a caller"},
            "operator_id": {"type": "string", "description": "Staff only: the chosen operator"},
            "lang": {"type": "string", "enum": ["it", "en"], "default": "it"},
        },
    },
    "Booking": {
        "type": "object",
        "required": ["id", "service", "starts_at", "ends_at", "local", "timezone", "mode", "status", "channel"],
        "properties": {
            "id": STRING,
            "service": STRING,
            "starts_at": INSTANT,
            "ends_at": INSTANT,
            "local": LOCAL,
            "timezone": {"type": "string", "const": TIMEZONE},
            "mode": {"type": "string", "enum": ["video", "phone"]},
            "status": {"type": "string", "enum": ["active", "cancelled"]},
            "channel": {"type": "string", "enum": ["online", "switchboard", "follow_up"]},
            "operator_id": {"type": "string", "description": "Staff sessions only"},
        },
    },
    "Booked": {
        "type": "object",
        "required": ["booking", "join_link", "manage_link"],
        "properties": {
            "booking": _ref("Booking"),
            "join_link": {"type": "string", "format": "uri", "description": "The citizen's link to the call"},
            "manage_link": {"type": "string", "format": "uri", "description": "To cancel or reschedule"},
        },
    },
    "SlotTaken": {
        "type": "object",
        "required": ["error", "message", "alternatives"],
        "properties": {
            "error": {"type": "string", "const": "slot_taken"},
            "message": STRING,
            "alternatives": {"type": "array", "items": _ref("Slot"), "description": "The nearest free slots"},
        },
    },
}


def _services_operation() -> Schema:
    services = {"type": "object", "properties": {"services": {"type": "array", "items": _ref("Service")}}}
    return {
        "operationId": "listServices",
        "summary": "The services open to booking (all services for a staff session)",
        "responses": {
            "200": _json(services, "The services"),
            "429": _limited(f"More than {SLOT_QUERIES_PER_MINUTE} queries a minute from this address"),
        },
    }


def _slots_operation() -> Schema:
    answer = {
        "type": "object",
        "properties": {
            "service": STRING,
            "timezone": {"type": "string", "const": TIMEZONE},
            "slots": {"type": "array", "items": _ref("Slot")},
        },
    }
    return {
        "operationId": "listSlots",
        "summary": "Free slots of a service, soonest first",
        "parameters": [
            {"name": "slug", "in": "path", "required": True, "schema": STRING},
            {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
            {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS}},
        ],
        "responses": {
            "200": _json(answer, "The free slots"),
            "400": _error("A malformed query"),
            "404": _error("No such service (or not bookable online)"),
            "429": _limited(f"More than {SLOT_QUERIES_PER_MINUTE} queries a minute from this address"),
        },
    }


def _cancel_operation() -> Schema:
    return {
        "operationId": "cancelBooking",
        "summary": "Cancel a booking with its manage link's token (idempotent)",
        "parameters": [{"name": "manage_token", "in": "path", "required": True, "schema": STRING}],
        "responses": {
            "200": _json({"type": "object", "properties": {"booking": _ref("Booking")}}, "Cancelled"),
            "404": _error("No such booking"),
            "409": _error("The session has already started"),
            "429": _limited(f"More than {BOOKINGS_PER_MINUTE} booking requests a minute from this address"),
        },
    }


def _move_operation() -> Schema:
    moved = {
        "type": "object",
        "required": ["booking", "join_link", "manage_link"],
        "properties": {
            "booking": _ref("Booking"),
            "join_link": {"type": "string", "format": "uri", "description": "A new link: the old one stops working"},
            "manage_link": {"type": "string", "format": "uri"},
        },
    }
    request = {
        "type": "object",
        "required": ["starts_at"],
        "additionalProperties": False,
        "properties": {"starts_at": {**INSTANT, "description": "A free slot's starts_at"}},
    }
    return {
        "operationId": "moveBooking",
        "summary": "Reschedule a booking with its manage link's token",
        "parameters": [{"name": "manage_token", "in": "path", "required": True, "schema": STRING}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": {
            "200": _json(moved, "Moved"),
            "400": _error("Invalid input (see fields) or malformed JSON"),
            "404": _error("No such booking"),
            "409": _json(
                {"anyOf": [_ref("SlotTaken"), _ref("Error")]},
                "The slot was just taken (SlotTaken: alternatives offered), or the booking is cancelled or started",
            ),
            "413": _error(f"The body exceeds {MAX_BODY} bytes"),
            "429": _limited(f"More than {BOOKINGS_PER_MINUTE} booking requests a minute from this address"),
        },
    }


def _paths() -> Schema:
    openapi = {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
    }
    return {
        "/api/v1/services": {"get": _services_operation()},
        "/api/v1/services/{slug}/slots": {"get": _slots_operation()},
        "/api/v1/bookings": {"post": _book_operation()},
        "/api/v1/bookings/{manage_token}": {"delete": _cancel_operation()},
        "/api/v1/bookings/{manage_token}/move": {"post": _move_operation()},
        "/api/v1/openapi.json": {"get": openapi},
    }


def _book_operation() -> Schema:
    return {
        "operationId": "createBooking",
        "summary": "Book a slot (a citizen, or staff on a caller's behalf)",
        "description": (
            "A staff session (cookie) must send its CSRF token in X-CSRF-Token; it books with verbal_consent and "
            "may choose the operator. With an Idempotency-Key header, the same key and body get the first answer "
            "again (and one booking); the same key with another body gets 422."
        ),
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 200},
            }
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("BookingRequest")}}},
        "responses": {
            "201": _json(_ref("Booked"), "Booked: the links are shown this once"),
            "400": _error("Invalid input (see fields) or malformed JSON"),
            "403": _error("A staff request without its CSRF token, or a role that cannot book"),
            "404": _error("No such service (or not bookable online)"),
            "409": _json(_ref("SlotTaken"), "The slot was just taken; the nearest free slots are offered"),
            "413": _error(f"The body exceeds {MAX_BODY} bytes"),
            "422": _error("The Idempotency-Key was used with another body"),
            "429": _limited(f"More than {BOOKINGS_PER_MINUTE} bookings a minute from this address"),
        },
    }


def document(base_url: str) -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ascolto booking API",
            "version": VERSION,
            "description": f"Services, free slots and bookings. Times are UTC; `local` fields are {TIMEZONE}.",
        },
        "servers": [{"url": base_url}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": _json(_ref("Error"), "An error")},
        },
    }
