"""The one place where exceptions become Dify's error envelope.

Every non-2xx response is `{"code", "message", "status"}` with `application/json`, as
real Dify clients require (several SDKs read `code` unconditionally). Routers and
services raise `ChatflowError`s; framework errors (unknown route, wrong method, a body
that fails validation) and unexpected exceptions are mapped here too, so no response
ever carries a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from chatflow.api._json import JSONResponse
from chatflow.errors import ChatflowError

log = logging.getLogger("chatflow.api")

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# Werkzeug's wording, which is what Dify (a Flask app) sends for these statuses.
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "bad_request",
        "The browser (or proxy) sent a request that this server could not understand.",
    ),
    401: ("unauthorized", "Access token is invalid"),
    403: ("forbidden", "Forbidden."),
    404: (
        "not_found",
        "The requested URL was not found on the server. If you entered the URL manually "
        "please check your spelling and try again.",
    ),
    405: ("method_not_allowed", "The method is not allowed for the requested URL."),
    413: ("file_too_large", "File size exceeded."),
    415: ("unsupported_media_type", "Unsupported media type."),
    429: ("too_many_requests", "Too many requests."),
}


# The request's id in its scope (set by `api/middleware.py`), for the answer of last
# resort, which goes out past that middleware.
REQUEST_ID_SCOPE_KEY = "chatflow.request_id"


def envelope(
    code: str, message: str, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """Dify's error body."""
    return JSONResponse(
        {"code": code, "message": message, "status": status},
        status_code=status,
        headers=dict(headers or {}),
    )


def validation_message(errors: Sequence[Any]) -> str:
    """A readable one-line summary of pydantic errors, e.g. `user: Field required`."""
    parts: list[str] = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]  # where the field was, not part of its name
        message = str(error.get("msg", "invalid value"))
        if error.get("type") == "json_invalid":
            message = "Invalid JSON body"
        parts.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return "; ".join(parts) or "Invalid request"


async def _chatflow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatflowError)
    if exc.status >= 500:
        log.error("request failed: %s %s: %s", request.method, request.url.path, exc)
    return envelope(exc.code, exc.message, exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, default = _HTTP_ERRORS.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else None
    # Starlette's own details ("Not Found", "Method Not Allowed") are less helpful than
    # Werkzeug's sentences that Dify clients show; keep only details we wrote ourselves.
    if detail in ("Not Found", "Method Not Allowed", "Bad Request", None, ""):
        detail = default
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return envelope(code, detail, exc.status_code, headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path, as Werkzeug lists them in `Allow`.

    Starlette names only the first route whose path matched, so a path served by two
    routes (GET and POST /apps/annotations) would advertise one method.
    """
    found: list[str] = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            found.append(method)
    return found


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return envelope("invalid_param", validation_message(exc.errors()), 400)


async def _overloaded(request: Request, exc: Exception) -> Response:
    """No database connection freed up in time: the server is overloaded. A 503 the
    client may retry, not a 500 that reads as a bug."""
    log.warning("overloaded: %s %s: %s", request.method, request.url.path, exc)
    return envelope("server_busy", "The server is busy; retry shortly.", 503, {"Retry-After": "1"})


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    # Sent past `OperationsMiddleware` (Starlette's last resort is the outermost layer),
    # so the request id header is added here.
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY)
    headers = {"X-Request-Id": request_id} if request_id else None
    return envelope("internal_server_error", "Internal Server Error.", 500, headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error class to its envelope handler."""
    app.add_exception_handler(ChatflowError, _chatflow_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PoolTimeoutError, _overloaded)
    app.add_exception_handler(Exception, _unexpected_error)
