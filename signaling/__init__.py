"""Real time: the WebSocket hub, the typed protocol, room policies and the message bus."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add ``/ws`` (consultations), ``/ws/group`` (supervision rooms) and ``/ws/alerts``, their shared socket
    registry and their resources to the application."""
    from signaling.alerts import setup_alerts
    from signaling.group_hub import setup_group_hub
    from signaling.hub import setup_hub
    from signaling.sockets import sockets_ctx

    app.cleanup_ctx.append(sockets_ctx)  # the caps' registry and the revocation sweeper, before the hubs
    setup_hub(app)
    setup_group_hub(app)
    setup_alerts(app)  # /ws/alerts: supervisors' real-time alerts
