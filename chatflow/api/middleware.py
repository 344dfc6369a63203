"""Per-request operations: `X-Request-Id`, metrics by route and status, one log line.

A plain ASGI middleware (no `BaseHTTPMiddleware`): streamed responses pass through
untouched, message by message. The route label is the matched route's template
(`/v1/conversations/{conversation_id}`), never the raw path, so labels stay few.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatflow.observability import context
from chatflow.observability import metrics as m

log = logging.getLogger("chatflow.access")

REQUEST_ID_HEADER = b"x-request-id"
# A client's own id is echoed only when it is short and printable (it goes in logs).
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:@/+=-]{1,128}$")
_UNMATCHED = "unmatched"
# Probes and scrapes are counted but not logged (they would drown the access log).
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _SAFE_ID.match(value):
            return str(value.decode("ascii"))
    return uuid.uuid4().hex


def _route(scope: Scope) -> str:
    """The request path with each path parameter put back as `{name}`."""
    if scope.get("route") is None:
        return _UNMATCHED
    path = str(scope.get("path", ""))
    params: dict[str, Any] = scope.get("path_params") or {}
    if params:
        names = {str(value): name for name, value in params.items()}
        path = "/".join(f"{{{names[s]}}}" if s in names else s for s in path.split("/"))
    return path


class OperationsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        ctx = context.begin(request_id)
        started = time.perf_counter()
        status = 500  # if the app dies before answering
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [h for h in message.get("headers", ()) if h[0] != REQUEST_ID_HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route, method = _route(scope), str(scope.get("method", ""))
            m.HTTP_REQUESTS.labels(route, method, str(status)).inc()
            m.HTTP_LATENCY.labels(route, method).observe(elapsed)
            if route not in _QUIET:
                log.info(
                    "%s %s %d",
                    method,
                    scope.get("path", ""),
                    status,
                    extra={
                        **ctx.as_fields(),
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
