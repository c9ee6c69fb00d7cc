"""Absolute links that leave the site (emails, the command line, text dictated on the phone)."""

from __future__ import annotations

from aiohttp import web

from server.keys import settings_key


def absolute(app: web.Application, name: str, **parts: str) -> str:
    return app[settings_key].base_url + str(app.router[name].url_for(**parts))


def join_url(app: web.Application, token: str) -> str:
    return absolute(app, "join", token=token)


def operator_url(app: web.Application, consultation_id: str) -> str:
    return absolute(app, "consultation", id=consultation_id)
