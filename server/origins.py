"""Which Origins may talk to us: the site's own, plus the configured allowlist.

Used by the form CSRF check and by the signaling WebSocket handshake alike.
"""

from __future__ import annotations

from yarl import URL

from server.settings import Settings


def site_origin(settings: Settings) -> str:
    return str(URL(settings.base_url).origin())


def allowed_origins(settings: Settings) -> frozenset[str]:
    return frozenset({site_origin(settings), *settings.allowed_origins})


def origin_allowed(settings: Settings, origin: str | None) -> bool:
    return origin is not None and origin in allowed_origins(settings)
