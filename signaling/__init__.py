"""Real time: the WebSocket hub, the typed protocol, room policies and the message bus."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add ``/ws`` and the hub's resources (bus, rooms, heartbeat) to the application."""
    from signaling.hub import setup_hub

    setup_hub(app)
