"""JSON in and out: reading a bounded body, turning it into a booking request, and shaping the answers.

Nothing here names an operator to the public: a slot says how many operators are free, not who.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime

from aiohttp import web

from scheduling.booking import BookingRequest
from scheduling.slots import Slot
from server.clock import ROME, TIMEZONE
from server.errors import AscoltoError, InvalidInput
from server.keys import settings_key
from server.models import Booking, Service, Staff
from web.links import absolute, join_url

MAX_BODY = 16 * 1024  # a booking is a few hundred bytes
MAX_DAYS = 62  # days of slots in one query
BOOKING_FIELDS: dict[str, type] = {
    "service": str,
    "starts_at": str,
    "mode": str,
    "citizen_name": str,
    "citizen_email": str,
    "citizen_phone": str,
    "privacy_accepted": bool,
    "verbal_consent": bool,
    "operator_id": str,
    "lang": str,
}
REQUIRED = ("service", "starts_at", "citizen_name")
LANGS = ("it", "en")


JsonObject = dict[str, object]  # a JSON object, as json.loads gives it or json.dumps takes it


class PayloadTooLarge(AscoltoError):
    status = 413
    code = "payload_too_large"


class InvalidJson(AscoltoError):
    status = 400
    code = "invalid_json"


async def read_json(request: web.Request) -> JsonObject:
    """The body as a JSON object, at most :data:`MAX_BODY` bytes (413 beyond, 400 when not a JSON object)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise PayloadTooLarge(f"the body may not exceed {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(MAX_BODY + 1 - size):  # a chunked body has no Content-Length
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"the body may not exceed {MAX_BODY} bytes")
    try:
        payload = json.loads(b"".join(chunks))
    except (UnicodeDecodeError, ValueError):
        raise InvalidJson("the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidJson("the body must be a JSON object")
    return payload


def parse_instant(raw: str, field: str = "starts_at") -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("the time is not ISO 8601", {field: "invalid"}) from None
    if value.tzinfo is None:
        raise InvalidInput("the time needs a time zone (e.g. Z)", {field: "naive"})
    return value.astimezone(UTC)


def _check_fields(payload: JsonObject) -> None:
    fields: dict[str, str] = {}
    for name, value in payload.items():
        expected = BOOKING_FIELDS.get(name)
        if expected is None:
            fields[name] = "unknown"
        elif value is not None and not isinstance(value, expected):
            fields[name] = f"expected_{'boolean' if expected is bool else 'string'}"
    for name in REQUIRED:
        if not payload.get(name) and name not in fields:
            fields[name] = "required"
    if fields:
        raise InvalidInput("the booking is not valid", fields)


def _text(payload: JsonObject, name: str) -> str:
    """A text field (:func:`_check_fields` has checked its type), "" when absent or null."""
    value = payload.get(name)
    return value if isinstance(value, str) else ""


def booking_request(payload: JsonObject, staff: Staff | None) -> BookingRequest:
    _check_fields(payload)
    lang = _text(payload, "lang") or "it"
    return BookingRequest(
        service=_text(payload, "service"),
        starts_at=parse_instant(_text(payload, "starts_at")),
        mode=_text(payload, "mode") or "video",
        citizen_name=_text(payload, "citizen_name"),
        citizen_email=_text(payload, "citizen_email"),
        citizen_phone=_text(payload, "citizen_phone"),
        privacy_accepted=payload.get("privacy_accepted") is True,
        verbal_consent=payload.get("verbal_consent") is True,
        operator_id=_text(payload, "operator_id") or None,
        staff=staff,
        lang=lang if lang in LANGS else "it",
    )


def move_request(payload: JsonObject) -> datetime:
    """``{"starts_at": ...}``: the new start."""
    unknown = {name: "unknown" for name in payload if name != "starts_at"}
    if unknown:
        raise InvalidInput("the request is not valid", unknown)
    raw = payload.get("starts_at")
    if not isinstance(raw, str) or not raw:
        raise InvalidInput("the request is not valid", {"starts_at": "required"})
    return parse_instant(raw)


def slot_query(query: Mapping[str, str]) -> tuple[date | None, int | None]:
    """``from=YYYY-MM-DD`` and ``days=N`` (1..MAX_DAYS), both optional."""
    fields: dict[str, str] = {}
    first: date | None = None
    days: int | None = None
    if raw := query.get("from"):
        try:
            first = date.fromisoformat(raw)
        except ValueError:
            fields["from"] = "expected YYYY-MM-DD"
    if raw := query.get("days"):
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
            fields["days"] = f"expected 1..{MAX_DAYS}"
        else:
            days = int(raw)
    if fields:
        raise InvalidInput("the query is not valid", fields)
    return first, days


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_iso(instant: datetime) -> str:
    return instant.astimezone(ROME).isoformat()


def slot_json(slot: Slot, *, staff: bool) -> JsonObject:
    body: JsonObject = {
        "starts_at": iso(slot.starts_at),
        "ends_at": iso(slot.ends_at),
        "local": local_iso(slot.starts_at),
        "operators": len(slot.operator_ids),
    }
    if staff:
        body["operator_ids"] = list(slot.operator_ids)
    return body


def service_json(service: Service) -> JsonObject:
    return {
        "slug": service.slug,
        "name": service.name,
        "description": service.description,
        "phone": service.phone,
        "session_minutes": service.session_minutes,
        "modes": [m.strip() for m in service.modes.split(",") if m.strip()],
        "bookable_online": service.bookable_online,
    }


def booking_json(booking: Booking, service_slug: str, *, staff: bool) -> JsonObject:
    body: JsonObject = {
        "id": booking.id,
        "service": service_slug,
        "starts_at": iso(booking.starts_at),
        "ends_at": iso(booking.ends_at),
        "local": local_iso(booking.starts_at),
        "timezone": TIMEZONE,
        "mode": booking.mode.value,
        "status": booking.status.value,
        "channel": booking.channel.value,
    }
    if staff:
        body["operator_id"] = booking.operator_id
    return body


class ApiLinks:
    """Absolute links for the answers and emails (:class:`scheduling.booking.Links`)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def _named(self, name: str, fallback: str, **parts: str) -> str:
        if name in self.app.router.named_resources():
            return absolute(self.app, name, **parts)
        return self.app[settings_key].base_url + fallback  # until the booking pages are routed

    def join(self, token: str) -> str:
        return join_url(self.app, token)

    def manage(self, token: str) -> str:
        return self._named("booking_manage", f"/booking/{token}", token=token)

    def book_again(self) -> str:
        return self._named("book", "/")
