"""Real time: the WebSocket endpoints, the typed protocol, room policies, the message bus and the SFU.

One subpackage per room kind, each with its hub (the endpoint) and its room (a pure state machine):
:mod:`signaling.consultation` (``/ws``, 1:1 consultations) and :mod:`signaling.group` (``/ws/group``, supervision
rooms). What they share is at the top: :mod:`~signaling.sockets` (the socket base every endpoint is a small
subclass of: handshake, caps, read loop, close codes, shutdown; and the revocation sweeper),
:mod:`~signaling.connection` (one socket's writer and rate limit), :mod:`~signaling.caps` (how many sockets),
:mod:`~signaling.protocol` (parse, serialise and every message, each declared once: those both kinds use, and those
of each kind in a module of its own), :mod:`~signaling.participants` (who is in a room, and the rules both room
kinds share), :mod:`~signaling.effects` (what a room asks its hub to do), :mod:`~signaling.bus`,
:mod:`~signaling.alerts` (``/ws/alerts``) and :mod:`~signaling.sfu` (the SFU of group rooms).
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add ``/ws`` (consultations), ``/ws/group`` (supervision rooms) and ``/ws/alerts``, their shared socket
    registry and their resources to the application."""
    from signaling.alerts import setup_alerts
    from signaling.consultation.hub import setup_hub
    from signaling.group.hub import setup_group_hub
    from signaling.sockets import sockets_ctx

    app.cleanup_ctx.append(sockets_ctx)  # the caps' registry and the revocation sweeper, before the hubs
    setup_hub(app)
    setup_group_hub(app)
    setup_alerts(app)  # /ws/alerts: supervisors' real-time alerts
