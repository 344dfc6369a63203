"""One error shape everywhere: `{code, message, status}` JSON for every non-2xx."""

from __future__ import annotations

import httpx
import pytest

from .conftest import LiveServer, assert_envelope

pytestmark = pytest.mark.timeout(60)

ROUTES = [
    ("POST", "/chat-messages"),
    ("POST", "/chat-messages/t/stop"),
    ("GET", "/conversations"),
    ("GET", "/messages"),
    ("POST", "/conversations/c/name"),
    ("DELETE", "/conversations/c"),
    ("GET", "/conversations/c/variables"),
    ("GET", "/messages/m/suggested"),
    ("GET", "/info"),
    ("GET", "/parameters"),
    ("GET", "/meta"),
    ("GET", "/site"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_bearer_key(server: LiveServer, method: str, path: str) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        missing = client.request(method, path, json={"user": "alice"})
        body = assert_envelope(missing, 401, "unauthorized")
        assert "Bearer" in body["message"]
        wrong = client.request(
            method, path, json={"user": "alice"}, headers={"Authorization": "Bearer app-nope"}
        )
        assert_envelope(wrong, 401, "unauthorized")
        basic = client.request(method, path, headers={"Authorization": "Basic abc"})
        assert_envelope(basic, 401, "unauthorized")


def test_unknown_route_is_404_envelope(server: LiveServer) -> None:
    client = server.client()
    assert_envelope(client.get("/nope"), 404, "not_found")
    assert_envelope(client.post("/chat-messages/a/b/c", json={}), 404, "not_found")
    root = server.base_url.removesuffix("/v1")
    assert_envelope(httpx.get(root + "/no-such-page"), 404, "not_found")


def test_wrong_method_is_405_envelope(server: LiveServer) -> None:
    client = server.client()
    response = client.get("/chat-messages")
    assert_envelope(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]
    assert_envelope(client.put("/info"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"inputs": {}, "user": "alice"}, "query"),
        ({"query": 5, "user": "alice"}, "query"),
        ({"query": "x", "response_mode": "fast", "user": "alice"}, "response_mode"),
        ({"query": "x", "inputs": [1], "user": "alice"}, "inputs"),
    ],
)
def test_invalid_body_is_400_invalid_param(
    server: LiveServer, body: dict[str, object], fragment: str
) -> None:
    response = server.client().post("/chat-messages", json=body)
    envelope = assert_envelope(response, 400, "invalid_param")
    assert fragment in envelope["message"]


def test_malformed_json_is_400_invalid_param(server: LiveServer) -> None:
    response = server.client().post(
        "/chat-messages", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 400, "invalid_param")


def test_unknown_ids_are_404(server: LiveServer) -> None:
    client = server.client()
    chat = client.post(
        "/chat-messages",
        json={"query": "x", "user": "alice", "conversation_id": "missing", "inputs": {}},
    )
    assert_envelope(chat, 404, "not_found")
    assert_envelope(client.get("/messages", params={"conversation_id": "missing"}), 404)
    assert_envelope(client.get("/messages/missing/suggested", params={"user": "a"}), 404)
    assert_envelope(client.get("/conversations/missing/variables", params={"user": "a"}), 404)
    assert_envelope(client.get("/conversations", params={"user": "a", "last_id": "x"}), 404)


def test_paging_limits_are_checked(server: LiveServer) -> None:
    client = server.client()
    assert_envelope(client.get("/conversations", params={"limit": 0}), 400, "invalid_param")
    assert_envelope(client.get("/conversations", params={"limit": 101}), 400, "invalid_param")
    assert_envelope(client.get("/conversations", params={"limit": "ten"}), 400, "invalid_param")
    bad_sort = client.get("/conversations", params={"user": "alice", "sort_by": "name"})
    assert_envelope(bad_sort, 400, "invalid_param")
