"""Serve the monitor's committed bundle: ``GET /`` is ``index.html``, ``GET /assets/{name}`` its files.

Plain routes, not a ``Mount``: the gateway's route index keys a route by its literal leading
segments, so ``/assets/...`` is only ever tried for paths under ``/assets`` (a mount would be a
candidate for every request). Both routes stay out of the OpenAPI schema and need no token: the
app is public, it calls the API with the token its user signs in with. The app routes by the URL's
fragment (``/#/graphs/...``), so no other path needs an SPA fallback and nothing else is shadowed.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response

STATIC = Path(__file__).resolve().parent / "static"
_ASSET_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
          ".json": "application/json", ".map": "application/json", ".woff2": "font/woff2", ".png": "image/png",
          ".ico": "image/x-icon", ".html": "text/html"}
_SECURITY = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# The page holds its user's token: it runs only its own scripts, talks only to this origin (REST and
# the WebSocket), and is never framed. React sets styles through the DOM; React Flow's
# measured node positions arrive as style attributes, hence the one inline allowance, for styles.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; "
                           "img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
                           "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def _content_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def mount_monitor(app: FastAPI, directory: Path = STATIC) -> None:
    """Add the monitor's two routes to ``app`` (after its API routers, so they win any tie)."""
    root = directory.resolve()
    assets = (root / "assets").resolve()

    async def monitor_index() -> Response:
        index = root / "index.html"
        if not index.is_file():
            return PlainTextResponse("the monitor bundle is not built (see docs/monitor.md)", status_code=404)
        # no-cache: a new bundle's index (naming new asset files) is picked up on the next load
        return FileResponse(index, media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache", "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                                     "X-Frame-Options": "DENY", **_SECURITY})

    async def monitor_asset(name: str) -> Response:
        path = (assets / name).resolve()
        if not _ASSET_NAME.fullmatch(name) or not path.is_relative_to(assets) or not path.is_file():
            return PlainTextResponse("Not Found", status_code=404)
        # hashed names: a file's content never changes under its name
        return FileResponse(path, media_type=_content_type(path),
                            headers={"Cache-Control": "public, max-age=31536000, immutable", **_SECURITY})

    app.add_api_route("/", monitor_index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/assets/{name:path}", monitor_asset, methods=["GET"], include_in_schema=False)
