"""`/v1/openapi.json` and the Swagger UI page at `/docs`, with no CDN at run time.

The Swagger UI JavaScript and CSS come from the `swagger-ui-bundle` wheel and are served
by this app under `/docs/static`, so the page works on a machine with no internet.
"""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from chatflow.api._json import JSONResponse
from chatflow.api.openapi.document import build_document

DOCS_URL = "/docs"
_STATIC = f"{DOCS_URL}/static"


def install_docs(app: FastAPI, *, prefix: str) -> None:
    """Serve the merged document at `{prefix}/openapi.json` and Swagger UI at `/docs`.

    The app must be created with `openapi_url=None` and `docs_url=None`; the document is
    built once, on first request, after every router has been included.
    """
    openapi_url = f"{prefix}/openapi.json"
    document: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not document:
            document.update(build_document(app, prefix=prefix))
        return document

    # FastAPI's documented hook for a custom document (`app.openapi = ...`).
    app.openapi = openapi  # type: ignore[method-assign]

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(openapi())

    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{_STATIC}/favicon-32x32.png",
        )

    app.add_route(openapi_url, openapi_json, include_in_schema=False)
    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    static = StaticFiles(directory=str(swagger_ui_bundle.swagger_ui_path))
    app.mount(_STATIC, static, name="swagger-ui-static")
