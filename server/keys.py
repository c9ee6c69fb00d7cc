"""The typed application keys of the ground floor (aiohttp's "Data Sharing aka No Singletons Please"); the keys of
what the upper packages add (the socket hubs, the risk notifier) live beside what they key."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.sealing import Keyring
from server.settings import Settings

settings_key = web.AppKey("settings", Settings)
engine_key = web.AppKey("engine", AsyncEngine)
sessionmaker_key = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
keyring_key = web.AppKey("keyring", Keyring)  # seals case notes (server.sealing)
