"""What people see: routes and views, jinja2 templates, static ES modules and CSS, translations."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Middleware

from web import errors, routes, static_files
from web.i18n import strings_for, translate

HERE = Path(__file__).parent


def middlewares() -> list[Middleware]:
    return [static_files.compress_pages, errors.error_pages]


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(translate=translate, strings_for=strings_for)
    routes.setup_routes(app, HERE / "static")
