"""Placeholder: the signaling hub (replaced by the signaling work)."""

from __future__ import annotations

from aiohttp import web


def setup_hub(app: web.Application) -> None:
    return None
