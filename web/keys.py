"""Typed request keys of the web layer."""

from __future__ import annotations

from aiohttp import web

from server.auth import SessionInfo

# The staff session behind this request, once a view has looked it up (templates read it).
page_staff_key = web.RequestKey("page_staff", SessionInfo)
# The double-submit token for the login form, which comes before any session.
login_csrf_key = web.RequestKey("login_csrf", str)
