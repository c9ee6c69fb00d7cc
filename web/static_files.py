"""Static files served from memory, gzip-compressed once, with content-hashed URLs cached for a year.

Many citizens are on a phone with a poor connection: every byte before the device check counts. Files are read
once at start-up; a file's URL carries a hash of its content, so a new release is never served stale.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

COMPRESSIBLE = {".js", ".css", ".html", ".svg", ".json", ".txt", ".webmanifest"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


assets_key = web.AppKey("static_assets", dict[str, Asset])


def _load(static_dir: Path) -> dict[str, Asset]:
    assets: dict[str, Asset] = {}
    for path in sorted(static_dir.rglob("*")):
        if not path.is_file():
            continue
        body = path.read_bytes()
        rel = path.relative_to(static_dir).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".js":
            content_type = "text/javascript"
        gzipped = gzip.compress(body, 9, mtime=0) if path.suffix in COMPRESSIBLE else None
        if gzipped is not None and len(gzipped) >= len(body):
            gzipped = None
        assets[rel] = Asset(body, gzipped, content_type, hashlib.sha256(body).hexdigest()[:16])
    return assets


def url_for(app: web.Application, rel: str) -> str:
    asset = app[assets_key].get(rel)
    if asset is None:
        raise KeyError(f"no static file {rel!r}")
    return str(app.router["static"].url_for(path=rel).with_query(v=asset.etag))


async def serve(request: web.Request) -> web.StreamResponse:
    asset = request.app[assets_key].get(request.match_info["path"])
    if asset is None:
        raise web.HTTPNotFound()
    etag = f'"{asset.etag}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=31536000, immutable" if "v" in request.query else "no-cache",
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, content_type=asset.content_type, headers=headers)


def setup(app: web.Application, static_dir: Path) -> None:
    app[assets_key] = _load(static_dir)
    app.router.add_get("/static/{path:.+}", serve, name="static")


@web.middleware
async def compress_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Gzip HTML pages on the fly (static files come precompressed from memory)."""
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and not response.prepared
        and response.content_type == "text/html"
        and "gzip" in request.headers.get("Accept-Encoding", "")
    ):
        response.enable_compression(web.ContentCoding.gzip)
    return response
