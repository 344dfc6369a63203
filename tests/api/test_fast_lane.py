"""`ChatflowAPI`'s lanes (`chatflow/api/fast_lane.py`): a POST route served past FastAPI's
middleware stack answers exactly as the stack would (responses, every kind of error, the
request id, metrics labels), and the stack still serves whatever a lane does not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from chatflow.api.errors import install_error_handlers
from chatflow.api.fast_lane import ChatflowAPI
from chatflow.api.middleware import OperationsMiddleware, _route
from chatflow.api.routes.chat import _NamedRoute
from chatflow.errors import InvalidRequest

FAILURES: dict[str, Callable[[], Exception]] = {
    "chatflow": lambda: InvalidRequest("bad query", code="invalid_param"),
    "http": lambda: HTTPException(413),
    "crash": lambda: RuntimeError("boom"),
}


async def _endpoint(request: Request) -> Response:
    body = await request.json()
    failure = body.get("fail")
    if failure:
        raise FAILURES[failure]()
    return JSONResponse({"echo": body, "route": _route(request.scope)})


def _app(**kwargs: Any) -> ChatflowAPI:
    app = ChatflowAPI(**kwargs)
    install_error_handlers(app)
    app.add_middleware(OperationsMiddleware, max_bytes=1024, upload_max_bytes=4096)
    app.add_lane(Route("/lane", _endpoint, methods=["POST"]))
    # As the chat route: a Starlette route that names itself in the scope (metrics).
    app.router.routes.append(_NamedRoute("/stack", _endpoint, methods=["POST"]))
    return app


def _count_stack(app: ChatflowAPI) -> list[str]:
    """The paths of requests that reach FastAPI's middleware stack from now on."""
    assert app.middleware_stack is not None
    stack, seen = app.middleware_stack, []

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await stack(scope, receive, send)

    app.middleware_stack = counted
    return seen


def _answer(response: Any) -> tuple[int, Any, dict[str, str]]:
    # The id is new per request; the length follows the body, compared as JSON.
    skip = ("x-request-id", "content-length")
    headers = {k: v for k, v in response.headers.items() if k not in skip}
    return response.status_code, response.json(), headers


def test_a_lane_route_skips_the_stack_and_other_methods_do_not() -> None:
    app = _app()
    with TestClient(app) as client:
        client.post("/lane", json={})  # the first request builds the stack and the lanes
        seen = _count_stack(app)
        ok = client.post("/lane", json={"q": 1})
        assert ok.status_code == 200 and ok.json() == {"echo": {"q": 1}, "route": "/lane"}
        assert seen == []
        not_allowed = client.get("/lane")
        assert not_allowed.status_code == 405 and not_allowed.json()["status"] == 405
        assert not_allowed.headers["allow"] == "POST"
        client.post("/stack", json={})
        assert seen == ["/lane", "/stack"]


@pytest.mark.parametrize("failure", [None, *FAILURES])
def test_a_lane_answers_as_the_stack_does(failure: str | None) -> None:
    body = {"fail": failure} if failure else {"q": "hi"}
    with TestClient(_app(), raise_server_exceptions=False) as client:
        lane, stack = client.post("/lane", json=body), client.post("/stack", json=body)
    assert (
        lane.headers["x-request-id"]
        and lane.headers["x-request-id"] != stack.headers["x-request-id"]
    )
    status, payload, headers = _answer(lane)
    expected = _answer(stack)
    if failure is None:  # the same but for the route each names
        assert payload.pop("route") == "/lane" and expected[1].pop("route") == "/stack"
    assert (status, payload, headers) == expected
    if failure == "crash":  # the answer of last resort, past the middleware, has the id too
        assert payload == {
            "code": "internal_server_error",
            "message": "Internal Server Error.",
            "status": 500,
        }


def test_a_crash_in_a_lane_still_reaches_the_server() -> None:
    # As through Starlette's ServerErrorMiddleware: the 500 goes out, then the error is
    # raised on for the server to log (here the test client re-raises it).
    with TestClient(_app()) as client, pytest.raises(RuntimeError, match="boom"):
        client.post("/lane", json={"fail": "crash"})


def test_the_body_limit_and_the_request_id_hold_in_a_lane() -> None:
    with TestClient(_app()) as client:
        too_big = client.post("/lane", content=b'{"q": "' + b"x" * 2000 + b'"}')
        assert too_big.status_code == 413 and too_big.json()["status"] == 413
        echoed = client.post("/lane", json={}, headers={"X-Request-Id": "trace-7"})
        assert echoed.headers["x-request-id"] == "trace-7"


def test_a_root_path_or_fastapis_body_limit_takes_the_stack() -> None:
    app = _app()
    with TestClient(app, root_path="/under") as client:
        client.post("/under/lane", json={})
        seen = _count_stack(app)
        assert client.post("/under/lane", json={}).status_code == 200
        assert seen == ["/under/lane"]
    limited = _app(max_body_size=10_000)
    with TestClient(limited) as client:
        client.post("/lane", json={})
        seen = _count_stack(limited)
        assert client.post("/lane", json={}).status_code == 200
        assert seen == ["/lane"]


def test_a_lane_serves_only_post() -> None:
    with pytest.raises(ValueError, match="POST"):
        ChatflowAPI().add_lane(Route("/x", _endpoint, methods=["GET"]))
