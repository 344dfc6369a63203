"""Resumable streams on one worker (the in-process runtime), chat and workflow apps.

`id:` lines only for clients that opt in; `GET .../events` with `Last-Event-ID` gives
every frame after that id, none before. The cross-worker case is `test_scale_out.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import ANSWER, LiveServer

pytestmark = pytest.mark.timeout(60)
OPT_IN = {"X-Chatflow-Resumable": "true"}
Frame = tuple[str | None, dict[str, Any]]


def _frames(response: httpx.Response) -> Iterator[Frame]:
    """(id, payload) per data frame, checking every line is `id:`, `data:`, a ping or blank."""
    event_id: str | None = None
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            yield event_id, json.loads(line[6:])
            event_id = None
        else:
            assert line in ("", "event: ping"), line


def _chat(client: httpx.Client, headers: dict[str, str]) -> Any:
    payload = {"inputs": {}, "query": "Hi", "user": "alice", "response_mode": "streaming"}
    return client.stream("POST", "/chat-messages", json=payload, headers=headers)


def test_ids_only_for_clients_that_opt_in(server: LiveServer) -> None:
    client = server.client()
    with _chat(client, {}) as response:
        plain = list(_frames(response))
    assert all(event_id is None for event_id, _ in plain)
    with _chat(client, OPT_IN) as response:
        framed = list(_frames(response))
    ids = [event_id for event_id, _ in framed]
    assert all(ids) and len(set(ids)) == len(ids)
    # Same frames either way (ids aside): `message_end` and `workflow_finished` come from
    # one stream item, so they share its number with frame indexes 0 and 1.
    assert [p["event"] for _, p in framed] == [p["event"] for _, p in plain]
    assert [i.split("-")[1] for i in ids[-2:]] == ["0", "1"]


def test_chat_stream_resumes_after_any_frame(server: LiveServer) -> None:
    server.slow(0.005)
    client = server.client()
    with _chat(client, OPT_IN) as response:
        full = list(_frames(response))
    task_id = full[0][1]["task_id"]
    url = f"/chat-messages/{task_id}/events"
    # Resume after every few frames (mid item included): always exactly the rest.
    for cut in (1, 7, len(full) - 2, len(full) - 1):
        last_id = full[cut - 1][0]
        assert last_id is not None
        headers = {"Last-Event-ID": last_id}
        with client.stream("GET", url, params={"user": "alice"}, headers=headers) as response:
            assert response.status_code == 200
            assert list(_frames(response)) == full[cut:]
    with client.stream("GET", url, params={"user": "alice"}) as response:
        assert list(_frames(response)) == full
    answer = "".join(p["answer"] for _, p in full if p["event"] == "message")
    assert answer == ANSWER * 40


def test_resume_mid_run_follows_it_live(server: LiveServer) -> None:
    server.slow(0.01)
    client = server.client()
    first: list[Frame] = []
    with _chat(client, OPT_IN) as response:
        for frame in _frames(response):
            first.append(frame)
            if frame[1]["event"] == "message":
                break
    task_id, last_id = first[-1][1]["task_id"], first[-1][0]
    assert last_id is not None
    with client.stream(
        "GET",
        f"/chat-messages/{task_id}/events",
        params={"user": "alice"},
        headers={"Last-Event-ID": last_id},
    ) as response:
        rest = list(_frames(response))
    assert rest[-1][1]["event"] == "workflow_finished"
    answer = "".join(p["answer"] for _, p in first + rest if p["event"] == "message")
    assert answer == ANSWER * 40


def test_workflow_stream_resumes(server: LiveServer) -> None:
    client = server.client("workflow")
    payload = {"inputs": {"topic": "cats"}, "user": "u", "response_mode": "streaming"}
    with client.stream("POST", "/workflows/run", json=payload, headers=OPT_IN) as response:
        full = list(_frames(response))
    assert full[-1][1]["event"] == "workflow_finished"
    task_id, last_id = full[0][1]["task_id"], full[0][0]
    assert last_id is not None
    url = f"/workflows/tasks/{task_id}/events"
    headers = {"Last-Event-ID": last_id}
    with client.stream("GET", url, params={"user": "u"}, headers=headers) as response:
        assert list(_frames(response)) == full[1:]
    assert client.get(f"/chat-messages/{task_id}/events", params={"user": "u"}).status_code == 404
    # Another app's key cannot read it either.
    other = server.client().get(url, params={"user": "u"})
    assert other.status_code == 404 and other.json()["code"] == "not_found"
