"""Attacks over HTTP on a real server: another app's ids, another user's ids, oversized
bodies and uploads, preview MIME tricks. Each asserts the attack fails and that the
server keeps answering."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer, assert_envelope, chat

LIVE_SETTINGS: dict[str, Any] = {"request_max_kb": 64, "upload_request_max_mb": 1}
APP_A, APP_B = "assistant", "basic-chat"


def alive(server: LiveServer) -> None:
    """The server still answers a normal request."""
    assert server.client(APP_B).get("/parameters").status_code == 200


def upload(server: LiveServer, app: str, user: str, content_type: str, body: bytes) -> str:
    response = server.client(app).post(
        "/files/upload", data={"user": user}, files={"file": ("f.bin", body, content_type)}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def owned(server: LiveServer) -> Iterator[dict[str, str]]:
    """Ids that app A's user alice owns."""
    turn = chat(server.client(APP_A), "secret question", user="alice")
    yield {
        "conversation": turn["conversation_id"],
        "message": turn["id"],
        "file": upload(server, APP_A, "alice", "text/plain", b"alice's notes"),
    }


def _routes(ids: dict[str, str], user: str) -> list[tuple[str, str, dict[str, Any]]]:
    c, m, f = ids["conversation"], ids["message"], ids["file"]
    return [
        ("GET", "/messages", {"params": {"conversation_id": c, "user": user}}),
        ("GET", f"/conversations/{c}/variables", {"params": {"user": user}}),
        ("POST", f"/conversations/{c}/name", {"json": {"name": "x", "user": user}}),
        ("DELETE", f"/conversations/{c}", {"json": {"user": user}}),
        ("GET", f"/messages/{m}/suggested", {"params": {"user": user}}),
        ("POST", f"/messages/{m}/feedbacks", {"json": {"rating": "like", "user": user}}),
        ("GET", f"/files/{f}/preview", {"params": {"user": user}}),
        (
            "POST",
            "/chat-messages",
            {
                "json": {
                    "query": "continue",
                    "inputs": {},
                    "user": user,
                    "conversation_id": c,
                    "response_mode": "blocking",
                }
            },
        ),
    ]


@pytest.mark.parametrize("index", range(8))
def test_key_of_app_b_reaches_nothing_of_app_a(
    server: LiveServer, owned: dict[str, str], index: int
) -> None:
    method, path, kwargs = _routes(owned, "alice")[index]
    response = server.client(APP_B).request(method, path, **kwargs)
    assert response.status_code in (400, 404), (path, response.status_code, response.text)
    assert "secret question" not in response.text and "alice's notes" not in response.text
    alive(server)
    # The owner still has everything (the attack changed nothing).
    listed = server.client(APP_A).get("/conversations", params={"user": "alice"}).json()
    assert owned["conversation"] in [c["id"] for c in listed["data"]]


@pytest.mark.parametrize("index", range(8))
def test_user_y_reaches_nothing_of_user_x(
    server: LiveServer, owned: dict[str, str], index: int
) -> None:
    method, path, kwargs = _routes(owned, "mallory")[index]
    response = server.client(APP_A).request(method, path, **kwargs)
    assert response.status_code in (400, 404), (path, response.status_code, response.text)
    assert "secret question" not in response.text and "alice's notes" not in response.text
    alive(server)


def test_a_forged_file_input_cannot_read_another_apps_upload(server: LiveServer) -> None:
    """A chat file input naming app A's upload, sent with the key of an app that takes
    files, is refused."""
    file_id = upload(server, APP_A, "alice", "text/plain", b"alice's notes")
    body = {
        "query": "read it",
        "inputs": {},
        "user": "alice",
        "response_mode": "blocking",
        "files": [{"type": "document", "transfer_method": "local_file", "upload_file_id": file_id}],
    }
    response = server.client("files_chat").post("/chat-messages", json=body)
    assert response.status_code in (400, 404), response.text
    assert "alice's notes" not in response.text
    alive(server)


def test_oversized_json_body_is_413(server: LiveServer) -> None:
    big = {"query": "x" * (80 * 1024), "inputs": {}, "user": "u", "response_mode": "blocking"}
    response = server.client(APP_B).post("/chat-messages", json=big)
    assert_envelope(response, 413, "file_too_large")
    alive(server)


def test_oversized_chunked_body_is_cut_at_the_limit(server: LiveServer) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"query": "'
        for _ in range(10_000):  # 10 MB if read whole; the server stops at 64 KiB
            sent += 1024
            yield b"x" * 1024
        yield b'"}'

    client = server.client(APP_B)
    try:
        response = client.post(
            "/chat-messages", content=chunks(), headers={"content-type": "application/json"}
        )
    except httpx.TransportError:
        pass  # the server closed the connection mid-body: also a refusal
    else:
        assert_envelope(response, 413, "file_too_large")
    alive(server)


def test_oversized_upload_is_413(server: LiveServer) -> None:
    response = server.client(APP_A).post(
        "/files/upload",
        data={"user": "alice"},
        files={"file": ("big.txt", b"x" * (2 * 1024 * 1024), "text/plain")},
    )
    assert_envelope(response, 413, "file_too_large")
    alive(server)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "text/html; charset=utf-8",
        "TEXT/HTML",
        "Text/Html ;charset=utf-8",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "application/javascript",
        "text/html,image/png",
        "multipart/x-mixed-replace; boundary=x",
    ],
)
def test_preview_never_renders_active_content(server: LiveServer, content_type: str) -> None:
    file_id = upload(server, APP_A, "alice", content_type, b"<script>alert(1)</script>")
    response = server.client(APP_A).get(f"/files/{file_id}/preview", params={"user": "alice"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"].startswith("private")
    alive(server)


@pytest.mark.parametrize("content_type", ["image/png", "IMAGE/PNG; x=y", "text/plain"])
def test_preview_shows_safe_types_inline_in_a_sandbox(
    server: LiveServer, content_type: str
) -> None:
    file_id = upload(server, APP_A, "alice", content_type, b"\x89PNG....")
    response = server.client(APP_A).get(f"/files/{file_id}/preview", params={"user": "alice"})
    assert response.status_code == 200
    essence = content_type.split(";")[0].strip().lower()
    assert response.headers["content-type"].split(";")[0] == essence
    assert "content-disposition" not in response.headers
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "body", [b"[]", b'"hello"', b"null", b"1e999", b'{"query": {"$ne": 1}}', b"\xff\xfe"]
)
def test_a_hostile_chat_body_gets_a_400_envelope(server: LiveServer, body: bytes) -> None:
    """`POST /chat-messages` is a plain Starlette route, outside FastAPI's validation:
    whatever JSON (or not) arrives, the answer is Dify's envelope, never a 500."""
    response = server.client(APP_B).post(
        "/chat-messages", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"code", "message", "status"}
    alive(server)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_chat_messages_get_a_405_envelope(server: LiveServer, method: str) -> None:
    response = server.client(APP_B).request(method, "/chat-messages")
    assert_envelope(response, 405, "method_not_allowed")
    alive(server)


def test_chat_messages_without_a_key_is_401_before_the_body_is_read(
    server: LiveServer,
) -> None:
    response = httpx.post(f"{server.base_url}/chat-messages", content=b"{not json")
    assert response.status_code == 401, response.text
    assert set(response.json()) == {"code", "message", "status"}


@pytest.mark.parametrize("hostile", ["x" * 200, "a b", "a\tb", "<script>"])
def test_the_chat_lane_does_not_echo_a_hostile_request_id(server: LiveServer, hostile: str) -> None:
    """`POST /chat-messages` skips FastAPI's middleware stack (`api/fast_lane.py`); the
    request id a client sends still only comes back when it is short and printable."""
    response = server.client(APP_B).post(
        "/chat-messages", content=b"[]", headers={"X-Request-Id": hostile}
    )
    assert response.status_code == 400
    assert response.headers["x-request-id"] != hostile
    assert len(response.headers["x-request-id"]) == 32


def test_the_chat_lane_refuses_an_oversized_body_unread(server: LiveServer) -> None:
    body = b'{"query": "' + b"x" * (65 * 1024) + b'", "user": "u", "inputs": {}}'
    response = server.client(APP_B).post(
        "/chat-messages", content=body, headers={"content-type": "application/json"}
    )
    assert_envelope(response, 413, "file_too_large")
    alive(server)
