"""Security headers on every response (error pages, redirects and WebSocket handshakes included).

The middleware adds the page headers (CSP and friends) to what handlers return or raise. The response-prepare
signal (:func:`on_response_prepare`, on the application) sees every response the application sends, also the
500s aiohttp makes from an uncaught exception and the WebSocket handshakes: there the ``Server`` header is made
to name no software (aiohttp would say ``Python/3.x aiohttp/3.y``), and when the site is reached over HTTPS
(``Settings.https``) HSTS is added. A request too malformed to be routed is answered by aiohttp before any of
this; behind the reverse proxy the deployment guide asks for, the proxy answers those itself.
"""

from __future__ import annotations

import logging

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from server.keys import settings_key

log = logging.getLogger(__name__)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": (
        "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=(), "
        "interest-cohort=()"
    ),
}


SERVER = "server"  # the Server header's value: no product, no version
HSTS = "max-age=31536000; includeSubDomains"


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _decorate(request, exc)
        raise
    _decorate(request, response)
    return response


def _decorate(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a WebSocket or a streamed response already sent its headers
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        # Pages may show personal data: never keep them in a cache.
        response.headers.setdefault("Cache-Control", "no-store")


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, just before its headers go out: no software named, HSTS over HTTPS."""
    response.headers[hdrs.SERVER] = SERVER
    if request.app[settings_key].https:
        response.headers[hdrs.STRICT_TRANSPORT_SECURITY] = HSTS
