"""One error shape on every route the app serves (datasette's test_error_shape idea).

The routes are read from the app itself, so a route added later is covered without
touching this file. Each gets a missing and a wrong key (401), unknown ids, malformed
and wrong-typed bodies and junk query values: every non-2xx answer must be Dify's
`{code, message, status}` JSON, and no answer may be a 5xx.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from .conftest import LiveServer, assert_envelope

pytestmark = pytest.mark.timeout(120)

# Not part of the key-protected API: the docs and the chat page (`routes/web.py`).
PUBLIC = {"/v1/openapi.json", "/docs", "/", "/web/{version}/{name}"}
BAD_BODIES: list[dict[str, Any]] = [
    {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
    {"json": [1, 2]},
    {"json": {"user": ["x"], "query": 5, "inputs": "x", "value": {}, "rating": 3}},
    {"json": {"user": {"nested": True}, "page": "ten"}},
    {"content": b"\xff\xfe", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
]
BAD_QUERIES = [
    {"user": "", "limit": "ten", "page": "-1", "last_id": "nope", "first_id": "nope"},
    {"limit": str(10**30), "page": str(10**30), "conversation_id": "nope", "status": "?"},
]


def api_routes(live: LiveServer) -> list[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for context in iter_route_contexts(live.app.routes):
        path, methods = context.path_format, context.methods
        # The Service API is `/v1`; the chat page and `/docs` are public pages.
        if path is None or not methods or path in PUBLIC or not path.startswith("/v1/"):
            continue
        routes |= {(m, path.removeprefix("/v1")) for m in methods if m != "HEAD"}
    return sorted(routes)


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url)
    if response.status_code >= 400:
        assert_envelope(response, response.status_code)


def test_the_app_has_the_service_api_routes(server: LiveServer) -> None:
    routes = api_routes(server)
    assert ("POST", "/chat-messages") in routes and len(routes) >= 28


def test_every_route_answers_bad_keys_with_401_envelope(server: LiveServer) -> None:
    routes = api_routes(server)
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for method, path in routes:
            url = fill(path, "x")
            for headers in ({}, {"Authorization": "Bearer app-wrong"}, {"Authorization": "x"}):
                response = client.request(method, url, headers=headers, json={"user": "u"})
                body = assert_envelope(response, 401, "unauthorized")
                assert body["message"], (method, path)


def test_every_route_survives_unknown_ids_and_bad_input(server: LiveServer) -> None:
    client = server.client()
    for method, path in api_routes(server):
        for value in ("unknown", str(uuid.uuid4()), "%20", "0" * 300):
            url = fill(path, value)
            if method in ("GET", "DELETE"):
                for params in BAD_QUERIES:
                    assert_no_server_error(client.request(method, url, params=params))
            else:
                assert_no_server_error(client.request(method, url, json={"user": "u"}))
        if method != "GET":
            for body in BAD_BODIES:
                assert_no_server_error(client.request(method, fill(path, "x"), **body))


def test_unknown_routes_and_methods_are_envelopes(server: LiveServer) -> None:
    client = server.client()
    assert_envelope(client.get("/no-such-route"), 404, "not_found")
    for method, path in api_routes(server):
        other = "PATCH" if method != "PATCH" else "PUT"
        response = client.request(other, fill(path, "x"))
        if response.status_code == 405:
            assert_envelope(response, 405, "method_not_allowed")
            assert method in response.headers["allow"].split(", "), (method, path)
