"""Every typed application key, in one place (aiohttp's "Data Sharing aka No Singletons Please")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.sealing import Keyring
from server.settings import Settings

if TYPE_CHECKING:
    from signaling.alerts import AlertHub
    from signaling.group_hub import GroupHub
    from signaling.hub import Hub

settings_key = web.AppKey("settings", Settings)
engine_key = web.AppKey("engine", AsyncEngine)
sessionmaker_key = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
keyring_key = web.AppKey("keyring", Keyring)  # seals case notes (server.sealing)
hub_key: web.AppKey[Hub] = web.AppKey("hub")
group_hub_key: web.AppKey[GroupHub] = web.AppKey("group_hub")
alert_hub_key: web.AppKey[AlertHub] = web.AppKey("alert_hub")  # /ws/alerts (signaling.alerts)
