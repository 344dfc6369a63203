"""Caps on one request and on an app's concurrent runs, over HTTP on a real server: each
oversized request is refused with Dify's envelope and the server keeps answering."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from chatflow.errors import InvalidRequest
from chatflow.services.request_limits import ActiveRuns, RequestLimits, TooManyRequests
from tests.api.conftest import LiveServer, assert_envelope

LIVE_SETTINGS: dict[str, Any] = {
    "query_max_chars": 1000,
    "user_max_chars": 50,
    "input_max_chars": 500,
    "files_per_message_max": 2,
    "max_active_runs_per_app": 1,
}
APP = "basic-chat"


def alive(server: LiveServer) -> None:
    assert server.client(APP).get("/parameters").status_code == 200


def _chat(server: LiveServer, app: str = APP, **body: Any) -> httpx.Response:
    payload = {"inputs": {}, "query": "hi", "user": "u", "response_mode": "blocking", **body}
    return server.client(app).post("/chat-messages", json=payload)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"query": "q" * 1001}, "query"),
        ({"user": "u" * 51}, "user"),
        ({"inputs": {"x": "v" * 501}}, "input form"),
        ({"inputs": {"x": {"deep": ["v" * 600]}}}, "input form"),
    ],
)
def test_oversized_fields_are_400(server: LiveServer, body: dict[str, Any], words: str) -> None:
    response = _chat(server, **body)
    assert words in assert_envelope(response, 400, "invalid_param")["message"]
    alive(server)


def test_files_per_message_are_capped(server: LiveServer) -> None:
    remote = {"type": "document", "transfer_method": "remote_url", "url": "https://e.org/a.txt"}
    response = _chat(server, "files_chat", files=[remote] * 3)
    assert "Number of files" in assert_envelope(response, 400, "invalid_param")["message"]
    alive(server)


def test_concurrent_runs_of_an_app_are_429_past_the_limit(server: LiveServer) -> None:
    server.slow(0.05)  # the first turn streams for a few seconds
    first_started = threading.Event()
    first: dict[str, Any] = {}

    def stream() -> None:
        payload = {"inputs": {}, "query": "long", "user": "a", "response_mode": "streaming"}
        with server.client(APP, timeout=60).stream("POST", "/chat-messages", json=payload) as r:
            first["status"] = r.status_code
            for _ in r.iter_lines():
                first_started.set()

    thread = threading.Thread(target=stream)
    thread.start()
    assert first_started.wait(20)
    second = _chat(server, query="again")
    assert_envelope(second, 429, "too_many_requests")
    alive(server)  # reads still answer while the app is at its limit
    thread.join(60)
    assert first["status"] == 200
    server.reset_model()
    for _ in range(50):  # the slot frees when the first run's task ends
        response = _chat(server)
        if response.status_code == 200:
            break
        time.sleep(0.1)
    assert response.status_code == 200


def test_number_limits_of_the_app_win_below_the_ceiling() -> None:
    limits = RequestLimits(files_per_message_max=10)
    rules = {"enabled": True, "number_limits": 3}
    limits.check(inputs={}, files=[{}] * 3, file_rules=rules)
    with pytest.raises(InvalidRequest):
        limits.check(inputs={}, files=[{}] * 4, file_rules=rules)
    with pytest.raises(InvalidRequest):
        limits.check(inputs={}, files=[{}] * 11, file_rules={**rules, "number_limits": 50})
    # An app without file upload ignores files (as Dify does): nothing to count.
    limits.check(inputs={}, files=[{}] * 11, file_rules={"enabled": False})


def test_active_runs_release_once() -> None:
    runs = ActiveRuns(limit=1)
    release = runs.acquire("a")
    with pytest.raises(TooManyRequests):
        runs.acquire("a")
    runs.acquire("b")()  # another app is not affected
    release()
    release()  # twice is harmless
    runs.acquire("a")
    assert runs.active("a") == 1
