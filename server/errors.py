"""Domain exceptions. One middleware (:mod:`server.middleware`) turns them into responses."""

from __future__ import annotations


class AscoltoError(Exception):
    """Base of the errors the domain raises on purpose. ``status`` is the HTTP status it maps to."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.code)
        self.message = message or self.code


class InvalidInput(AscoltoError):
    status = 400
    code = "invalid_input"

    def __init__(self, message: str = "", fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


class NotAuthenticated(AscoltoError):
    status = 401
    code = "not_authenticated"


class Forbidden(AscoltoError):
    status = 403
    code = "forbidden"


class NotFound(AscoltoError):
    status = 404
    code = "not_found"


class Conflict(AscoltoError):
    status = 409
    code = "conflict"


class TooManyAttempts(AscoltoError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str = "", retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
