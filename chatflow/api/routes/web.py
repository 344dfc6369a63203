"""The built-in chat page: `/` and its two assets from the `chatflow.web` package.

The page is static and talks to the Service API under `/v1` with the key from the URL
fragment, so nothing here touches apps or keys. `index.html` is revalidated on every
load (ETag) and names its assets with a content hash (`/web/app.js?v=<hash>`); a request
carrying the current hash may be cached for a year, any other is revalidated.
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
_MEDIA_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
# The page runs only its own script and style and talks only to this origin; the key sits
# in the fragment, and `no-referrer` keeps even the page's path out of other sites' logs.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
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
    version: str  # a content hash: the `?v=` of asset URLs and the ETag

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _asset(body: bytes, media_type: str) -> Asset:
    return Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])


@cache
def assets() -> dict[str, Asset]:
    """The page and its assets, read once from the package (index links hashed URLs)."""
    files = resources.files("chatflow.web")
    out = {name: _asset(files.joinpath(name).read_bytes(), kind) for name, kind in _MEDIA_TYPES.items()}
    index = files.joinpath("index.html").read_text(encoding="utf-8")
    for name, asset in out.items():
        index = index.replace(f"{{{{{name}}}}}", f"{ASSET_PREFIX}/{name}?v={asset.version}")
    out["index.html"] = _asset(index.encode("utf-8"), "text/html; charset=utf-8")
    return out


def _serve(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, **_PAGE_HEADERS}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
async def chat_page(request: Request) -> Response:
    return _serve(request, assets()["index.html"], "no-cache")


@router.api_route(ASSET_PREFIX + "/{name}", methods=["GET", "HEAD"])
async def chat_asset(name: str, request: Request, v: str | None = None) -> Response:
    asset = assets().get(name) if name in _MEDIA_TYPES else None
    if asset is None:
        raise NotFound(f"No such asset: {name}")
    return _serve(request, asset, _IMMUTABLE if v == asset.version else "no-cache")
