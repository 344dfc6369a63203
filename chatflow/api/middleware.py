"""Per-request operations: the body limit, `X-Request-Id`, metrics by route and status,
one log line.

A plain ASGI middleware (no `BaseHTTPMiddleware`), and one layer for all of it: streamed
responses pass through untouched, message by message. The route label is the matched
route's template (`/v1/conversations/{conversation_id}`), never the raw path, so labels
stay few.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from typing import Any

from prometheus_client.metrics import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatflow.api.body_limit import BodyLimit, BodyTooLarge, content_length, reject
from chatflow.api.errors import REQUEST_ID_SCOPE_KEY
from chatflow.ids import uuid4_hex
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
    return uuid4_hex()


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


# The metric children of each (route, method, status), looked up once as the run metrics'
# are (`services/driver.py`): `.labels()` validates and locks on every call; the children
# it returns are the same objects each time.
@functools.cache
def _series(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    return m.HTTP_REQUESTS.labels(route, method, str(status)), m.HTTP_LATENCY.labels(route, method)


def _observe(route: str, method: str, status: int, elapsed: float) -> None:
    requests, latency = _series(route, method, status)
    requests.inc()
    latency.observe(elapsed)


class OperationsMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int) -> None:
        self.app = app
        self.limit = BodyLimit(max_bytes=max_bytes, upload_max_bytes=upload_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.limit.for_path(path)
        declared = content_length(scope)
        if declared is not None and declared > limit:
            await reject(send)  # before any route, id, metric or log line
            return
        received = 0
        request_id = scope[REQUEST_ID_SCOPE_KEY] = _request_id(scope)
        ctx = context.begin(request_id)
        started = time.perf_counter()
        status = 500  # if the app dies before answering
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = [h for h in message.get("headers", ()) if h[0] != REQUEST_ID_HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            try:
                await self.app(scope, limited_receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route, method = _route(scope), str(scope.get("method", ""))
                _observe(route, method, status, elapsed)
                if route not in _QUIET and log.isEnabledFor(logging.INFO):
                    log.info(
                        "%s %s %d",
                        method,
                        path,
                        status,
                        extra={
                            **ctx.as_fields(),
                            "route": route,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 2),
                        },
                    )
        except BodyTooLarge:
            # Past the limit with no handler's answer (counted and logged above as 500,
            # the request's fate up to here): the 413 goes out without the id header.
            if response_started:
                raise
            await reject(send)
