"""Caps on one request and on concurrent runs (per app, per key, per web session), over
HTTP on a real server: each refused request gets Dify's envelope and the server keeps
answering. (Counted across workers through Redis: `test_run_slots_redis.py`.)"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from chatflow.errors import InvalidRequest, TooManyRequests
from chatflow.services.request_limits import RequestLimits
from chatflow.services.run_slots import LocalRunSlots, RunLimits, key_caller, web_caller
from tests.api.conftest import LiveServer, assert_envelope

LIVE_SETTINGS: dict[str, Any] = {
    "query_max_chars": 1000,
    "user_max_chars": 50,
    "input_max_chars": 500,
    "files_per_message_max": 2,
    "max_active_runs_per_app": 2,
    "max_active_runs_per_key": 1,
    "max_active_runs_per_web_session": 1,
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


class Streaming:
    """A chat turn streaming on a thread until the slow model is done."""

    def __init__(self, client: httpx.Client, path: str, payload: dict[str, Any]) -> None:
        self.started = threading.Event()
        self.status = 0
        self._thread = threading.Thread(target=self._run, args=(client, path, payload))
        self._thread.start()
        assert self.started.wait(20), "the stream did not start"

    def _run(self, client: httpx.Client, path: str, payload: dict[str, Any]) -> None:
        with client.stream("POST", path, json=payload, timeout=60) as response:
            self.status = response.status_code
            for _ in response.iter_lines():
                self.started.set()
        self.started.set()

    def join(self) -> int:
        self._thread.join(60)
        return self.status


def _stream(server: LiveServer, client: httpx.Client, query: str = "long") -> Streaming:
    payload = {"inputs": {}, "query": query, "user": "a", "response_mode": "streaming"}
    running = Streaming(client, "/chat-messages", payload)
    assert running.status == 200
    return running


def _keyed(server: LiveServer, key: str) -> httpx.Client:
    client = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    server.clients.append(client)
    return client


def _until_free(send: Any) -> httpx.Response:
    for _ in range(100):  # a slot frees when its run's task ends
        response: httpx.Response = send()
        if response.status_code != 429:
            return response
        time.sleep(0.1)
    return response


def test_concurrent_runs_are_429_past_the_key_and_the_app_limit(server: LiveServer) -> None:
    server.slow(0.05)  # each turn streams for a few seconds
    first = _stream(server, server.client(APP))
    # The same key again: its limit (1) is reached.
    assert (
        "Too many"
        in assert_envelope(_chat(server, query="again"), 429, "too_many_requests")["message"]
    )
    alive(server)  # reads still answer while the key is at its limit
    # Another key of the app has its own count; then the app's (2) is full for a third.
    second_key = _keyed(server, server.call(server.services.apps.create_key(APP)))
    second = _stream(server, second_key)
    third_key = _keyed(server, server.call(server.services.apps.create_key(APP)))
    payload = {"inputs": {}, "query": "hi", "user": "u", "response_mode": "blocking"}
    assert_envelope(third_key.post("/chat-messages", json=payload), 429, "too_many_requests")
    alive(server)
    assert first.join() == 200 and second.join() == 200
    server.reset_model()
    assert _until_free(lambda: _chat(server)).status_code == 200


def test_a_web_session_has_its_own_run_limit(server: LiveServer) -> None:
    server.slow(0.05)
    browser = server.web_client(APP)
    body = {"inputs": {}, "query": "long", "response_mode": "streaming"}
    first = Streaming(browser, "/chat-messages", body)
    assert first.status == 200
    again = browser.post("/chat-messages", json={**body, "query": "again"})
    assert_envelope(again, 429, "too_many_requests")
    # Another browser's session is not held back by this one's.
    other = Streaming(server.web_client(APP), "/chat-messages", body)
    assert other.status == 200
    alive(server)
    assert first.join() == 200 and other.join() == 200
    server.reset_model()
    response = _until_free(lambda: browser.post("/chat-messages", json=body))
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


async def test_local_slots_count_per_app_key_and_web_session() -> None:
    slots = LocalRunSlots(RunLimits(per_app=3, per_key=1, per_web_session=1))
    key_a, key_b = key_caller("hash-a"), key_caller("hash-b")
    release = await slots.acquire("app", key_a)
    with pytest.raises(TooManyRequests):
        await slots.acquire("app", key_a)
    await slots.acquire("app", key_b)
    await slots.acquire("app", web_caller("alice"))
    assert slots.active("app:app") == 3
    with pytest.raises(TooManyRequests):  # the app's limit, whoever asks
        await slots.acquire("app", web_caller("bob"))
    (await slots.acquire("other-app", web_caller("alice")))()  # a session is per site
    release()
    release()  # twice is harmless
    assert slots.active("app:app") == 2 and slots.active(key_a) == 0
    await slots.acquire("app", key_a)
    # A refused run took nothing: the counts are as they were.
    assert slots.active("app:app") == 3 and slots.active(key_b) == 1


async def test_no_limits_counts_nothing() -> None:
    slots = LocalRunSlots(RunLimits())
    for _ in range(1000):
        await slots.acquire("app", key_caller("k"))
    assert slots.active("app:app") == 0
