"""The built-in chat page: `/chat/{code}` (an app's site) and its assets from the
`chatflow.web` package.

The page is static and talks to the sites' API under `/api` (`routes/web_api.py`) with an
end-user session cookie; it never sees a Service API key. `index.html` is revalidated on every load
(ETag). Its script and style live under `/web/<version>/`, where the version is a hash of
all assets: the ES modules import each other relatively and so inherit it, which lets a
browser cache every asset for a year and still pick up a new release at once. An asset
asked for under another version (a page from before an upgrade) is served, uncached.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import Response

from chatflow.errors import NotFound

router = APIRouter(include_in_schema=False)

ASSET_PREFIX = "/web"
MEDIA_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "extras.js": "text/javascript; charset=utf-8",
    "speech.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console_annotations.js": "text/javascript; charset=utf-8",
    "console_call.js": "text/javascript; charset=utf-8",
    "console_knowledge.js": "text/javascript; charset=utf-8",
    "console_models.js": "text/javascript; charset=utf-8",
    "console_tools.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "inputs.js": "text/javascript; charset=utf-8",
    "markdown.js": "text/javascript; charset=utf-8",
    "sidebar.js": "text/javascript; charset=utf-8",
    "uploads.js": "text/javascript; charset=utf-8",
    "workflow.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
# The page runs only its own script and style and talks only to this origin;
# `no-referrer` keeps the site's code (in the path) from other sites.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass(frozen=True, slots=True)
class Bundle:
    version: str
    page: Asset
    console: Asset
    assets: dict[str, Asset]


@cache
def bundle() -> Bundle:
    """The page and its assets, read once from the package data."""
    files = resources.files("chatflow.web")
    assets = {
        name: Asset(files.joinpath(name).read_bytes(), kind) for name, kind in MEDIA_TYPES.items()
    }
    digest = hashlib.sha256()
    for name in sorted(assets):
        digest.update(name.encode() + b"\0" + assets[name].body)
    version = digest.hexdigest()[:12]

    def html(name: str) -> Asset:
        page = files.joinpath(name).read_text(encoding="utf-8")
        for asset in assets:
            page = page.replace("{{" + asset + "}}", f"{ASSET_PREFIX}/{version}/{asset}")
        return Asset(page.encode("utf-8"), "text/html; charset=utf-8")

    return Bundle(version, html("index.html"), html("console.html"), assets)


def _serve(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, **_HEADERS}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
async def home(request: Request) -> Response:
    """The same page; without a site code it says where the chat links come from."""
    return _serve(request, bundle().page, "no-cache")


@router.api_route("/chat/{code}", methods=["GET", "HEAD"])
async def chat_page(code: str, request: Request) -> Response:
    """An app's site; the page asks `/api/site` whether the code is published."""
    return _serve(request, bundle().page, "no-cache")


@router.api_route("/console", methods=["GET", "HEAD"])
async def console_page(request: Request) -> Response:
    """The operator console; it signs in through `/console/api` (`routes/console_api.py`)."""
    return _serve(request, bundle().console, "no-cache")


@router.api_route(ASSET_PREFIX + "/{version}/{name}", methods=["GET", "HEAD"])
async def chat_asset(version: str, name: str, request: Request) -> Response:
    current = bundle()
    asset = current.assets.get(name)
    if asset is None:
        raise NotFound(f"No such asset: {name}")
    return _serve(request, asset, _IMMUTABLE if version == current.version else "no-cache")
