"""`ChatflowAPI`: FastAPI with its busiest route served outside the middleware stack.

Nearly every request a chat server gets is `POST /v1/chat-messages`. Through FastAPI it
passes eleven layers before its handler runs (FastAPI's telemetry and body-limit layers,
Starlette's error and exception middleware, FastAPI's exit stack, the router, the route
and the route's own exception wrapper, ...) and its answer three `send` wrappers on the
way back: ~25 µs of a blocking chat's ~370 µs of server CPU. A lane serves such a route
through the layers that do something for it: Starlette's error handler of last resort
(`ServerErrorMiddleware`, with the app's 500 handler), the app's own middleware
(`OperationsMiddleware`: body limit, request id, metrics, access log), and the app's
exception handlers, looked up as Starlette's `ExceptionMiddleware` looks them up. The
route stays in the router too: other methods (a 405), and every request when the app is
set up in a way a lane does not reproduce (FastAPI's own body limit, a root path), take
the full stack.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Any]

# FastAPI's own OpenTelemetry (traces, metrics, logs through global providers that nothing
# here installs) off: its per-request check alone costs every request, and a lane would
# skip its layer. Operations go through `/metrics` and the access log (`api/middleware.py`).
TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


class ChatflowAPI(FastAPI):
    """The app class: FastAPI, plus `add_lane` routes served past its middleware stack."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(telemetry=TELEMETRY_OFF, **kwargs)
        self._lane_routes: dict[str, Route] = {}
        self._lanes: dict[str, ASGIApp] = {}

    def add_lane(self, route: Route) -> None:
        """Route `route` (an `async def endpoint(request) -> Response`) in the router
        and, for POST, through a lane. Before the app starts, as for middleware."""
        if not route.methods or "POST" not in route.methods:
            raise ValueError("a lane serves POST routes")
        self.router.routes.append(route)
        self._lane_routes[route.path] = route

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        # Built with the stack (once, at the first request), from the same handlers and
        # middleware, so a lane answers as the stack would.
        self._lanes = self._build_lanes()
        return stack

    def _build_lanes(self) -> dict[str, ASGIApp]:
        if self.max_body_size is not None or self.root_path:
            return {}
        last_resort: Handler | None = None
        handlers: dict[Any, Handler] = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                last_resort = value
            else:
                handlers[key] = value
        lanes: dict[str, ASGIApp] = {}
        for path, route in self._lane_routes.items():
            app: ASGIApp = _Endpoint(route, self, handlers)
            for cls, args, kwargs in reversed(self.user_middleware):
                app = cls(app, *args, **kwargs)
            lanes[path] = ServerErrorMiddleware(app, handler=last_resort, debug=self.debug)
        return lanes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            if self.middleware_stack is None:
                self.middleware_stack = self.build_middleware_stack()
            lane = self._lanes.get(scope["path"])
            if lane is not None:
                scope["app"] = self
                await lane(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class _Endpoint:
    """A route's endpoint as an ASGI app: the scope as the router leaves it, the
    endpoint's errors answered by the app's handlers (raised on when none applies)."""

    def __init__(self, route: Route, app: FastAPI, handlers: Mapping[Any, Handler]) -> None:
        self._route = route
        self._router = app.router
        self._endpoint: Endpoint = route.endpoint
        self._by_status = {key: value for key, value in handlers.items() if isinstance(key, int)}
        self._by_class = {key: value for key, value in handlers.items() if isinstance(key, type)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # What `Router` and the route put in the scope: the route's metrics label, and
        # `url_for` (the router).
        scope["route"] = self._route
        scope["endpoint"] = self._endpoint
        scope["path_params"] = {}
        scope.setdefault("router", self._router)
        request = Request(scope, receive, send)
        try:
            response = await self._endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            # As Starlette runs handlers: async ones here, others on a thread.
            if inspect.iscoroutinefunction(handler):
                answer = handler(request, exc)
            else:
                answer = await run_in_threadpool(handler, request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        # An error while the response is sent is past any handler (its start is out).
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        """As `ExceptionMiddleware`: an HTTP error's status first, then the class's MRO."""
        if isinstance(exc, HTTPException) and exc.status_code in self._by_status:
            return self._by_status[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self._by_class:
                return self._by_class[cls]
        return None
