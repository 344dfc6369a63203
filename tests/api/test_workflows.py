"""Workflow runs on the wire: `/workflows/run` (blocking, streaming), stop, detail, logs."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from .conftest import ANSWER, LiveServer, assert_envelope, sse_events

pytestmark = pytest.mark.timeout(60)

DATA_FIELDS = {
    "id", "workflow_id", "status", "outputs", "error", "elapsed_time", "total_tokens",
    "total_steps", "created_at", "finished_at",
}  # fmt: skip


def run(client: httpx.Client, user: str = "wf", **body: Any) -> httpx.Response:
    payload = {"inputs": {"topic": "owls"}, "user": user, "response_mode": "blocking", **body}
    return client.post("/workflows/run", json=payload)


def stream(client: httpx.Client, user: str = "wf", **body: Any) -> list[dict[str, Any]]:
    payload = {"inputs": {"topic": "owls"}, "user": user, "response_mode": "streaming", **body}
    with client.stream("POST", "/workflows/run", json=payload) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        raw = response.read().decode()
    return [e for e in sse_events(iter(raw.split("\n"))) if e["event"] != "ping"]


def test_blocking_run_returns_difys_shape(server: LiveServer) -> None:
    response = run(server.client("workflow"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"task_id", "workflow_run_id", "data"}
    data = body["data"]
    assert set(data) == DATA_FIELDS
    assert data["id"] == body["workflow_run_id"]
    assert data["status"] == "succeeded" and data["error"] is None
    assert data["outputs"] == {"text": ANSWER, "topic": "owls", "docs": []}
    assert data["total_steps"] == 4
    assert isinstance(data["created_at"], int) and isinstance(data["finished_at"], int)


def test_streaming_run_events(server: LiveServer) -> None:
    frames = stream(server.client("workflow"))
    names = [f["event"] for f in frames]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert "message" not in names and "message_end" not in names
    run_id = frames[0]["workflow_run_id"]
    for frame in frames:
        assert set(frame) == {"event", "workflow_run_id", "task_id", "data"}, frame
        assert frame["workflow_run_id"] == run_id
    assert len({f["task_id"] for f in frames}) == 1
    nodes = [(f["event"], f["data"]["node_type"]) for f in frames if f["event"].startswith("node_")]
    assert nodes[:2] == [("node_started", "start"), ("node_finished", "start")]
    assert ("node_finished", "end") in nodes
    text = "".join(f["data"]["text"] for f in frames if f["event"] == "text_chunk")
    assert ANSWER in text
    finished = frames[-1]["data"]
    assert finished["status"] == "succeeded" and finished["outputs"]["text"] == ANSWER


def test_run_detail_has_json_string_inputs_and_outputs(server: LiveServer) -> None:
    client = server.client("workflow")
    run_id = run(client).json()["workflow_run_id"]
    response = client.get(f"/workflows/run/{run_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == run_id and body["status"] == "succeeded"
    assert isinstance(body["inputs"], str) and json.loads(body["inputs"])["topic"] == "owls"
    assert isinstance(body["outputs"], str) and json.loads(body["outputs"])["text"] == ANSWER
    assert body["total_steps"] == 4 and isinstance(body["elapsed_time"], float)
    assert_envelope(client.get("/workflows/run/nope"), 404, "not_found")
    # A chatflow's turn is a workflow run too (of that app only); a basic chat app has none.
    payload = {"inputs": {}, "query": "Hi", "user": "wf-chat", "response_mode": "streaming"}
    with server.client().stream("POST", "/chat-messages", json=payload) as response:
        raw = response.read().decode()
    ended = [e for e in sse_events(iter(raw.split("\n"))) if e["event"] == "workflow_finished"]
    chat_run = ended[0]["workflow_run_id"]
    detail = server.client().get(f"/workflows/run/{chat_run}")
    assert detail.status_code == 200 and detail.json()["status"] == "succeeded"
    assert_envelope(client.get(f"/workflows/run/{chat_run}"), 404, "not_found")
    basic = server.client("basic-chat").get(f"/workflows/run/{run_id}")
    assert_envelope(basic, 400, "not_workflow_app")


def test_input_errors_and_wrong_mode(server: LiveServer) -> None:
    client = server.client("workflow")
    assert_envelope(run(client, inputs={}), 400, "invalid_param")
    assert_envelope(run(client, user=""), 400, "invalid_param")
    response = server.client().post("/workflows/run", json={"inputs": {}, "user": "u"})
    assert_envelope(response, 400, "not_workflow_app")
    stop = server.client().post("/workflows/tasks/x/stop", json={"user": "u"})
    assert_envelope(stop, 400, "not_workflow_app")


def test_failed_run_is_a_200_with_status_failed(server: LiveServer) -> None:
    client = server.client("workflow")
    # A remote file on loopback: the SSRF guard refuses it and the extractor fails.
    files = [
        {"type": "document", "transfer_method": "remote_url", "url": "http://127.0.0.1:9/a.txt"}
    ]
    response = run(client, files=files)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "failed" and data["error"]
    frames = stream(client, files=files)
    assert frames[-1]["event"] == "workflow_finished"
    assert frames[-1]["data"]["status"] == "failed"
    assert "error" not in [f["event"] for f in frames]


def test_stop_ends_the_stream_promptly_and_saves_the_run(server: LiveServer) -> None:
    server.slow(0.05)  # 200 tokens, 10 s if not stopped
    client = server.client("workflow")
    payload = {"inputs": {"topic": "owls"}, "user": "wf-stop", "response_mode": "streaming"}
    started = time.monotonic()
    events: list[dict[str, Any]] = []
    with client.stream("POST", "/workflows/run", json=payload) as response:
        lines = response.iter_lines()
        for event in sse_events(lines):
            events.append(event)
            if event["event"] == "text_chunk":
                stop = server.client("workflow").post(
                    f"/workflows/tasks/{event['task_id']}/stop", json={"user": "someone-else"}
                )
                assert stop.status_code == 200 and stop.json() == {"result": "success"}
                break
        rest = list(sse_events(lines))
    assert time.monotonic() - started < 5
    assert rest[-1]["event"] == "workflow_finished"
    assert rest[-1]["data"]["status"] == "stopped"
    run_id = rest[-1]["workflow_run_id"]
    detail = client.get(f"/workflows/run/{run_id}").json()
    assert detail["status"] == "stopped"
    # Unknown tasks: success as well.
    assert client.post("/workflows/tasks/nope/stop", json={}).json() == {"result": "success"}


def test_logs_filters_and_paging(server: LiveServer) -> None:
    client = server.client("workflow")
    ok = run(client, user="wf-logs").json()["workflow_run_id"]
    failed_files = [
        {"type": "document", "transfer_method": "remote_url", "url": "http://127.0.0.1:9/a.txt"}
    ]
    failed = run(client, user="wf-logs-2", files=failed_files).json()["workflow_run_id"]
    body = client.get("/workflows/logs", params={"limit": 100}).json()
    assert set(body) == {"page", "limit", "total", "has_more", "data"}
    ids = [item["workflow_run"]["id"] for item in body["data"]]
    assert ids.index(failed) < ids.index(ok)  # newest first
    item = body["data"][ids.index(ok)]
    assert item["created_from"] == "service-api" and item["created_by_role"] == "end_user"
    assert item["created_by_end_user"]["session_id"] == "wf-logs"
    assert item["workflow_run"]["status"] == "succeeded"

    def run_ids(**params: Any) -> list[str]:
        response = client.get("/workflows/logs", params={"limit": 100, **params})
        assert response.status_code == 200, response.text
        return [i["workflow_run"]["id"] for i in response.json()["data"]]

    assert failed in run_ids(status="failed")
    assert ok not in run_ids(status="failed")
    assert run_ids(created_by_end_user_session_id="wf-logs") == [ok]
    assert ok in run_ids(keyword="owls")
    assert run_ids(created_at__after="2999-01-01T00:00:00Z") == []
    assert ok in run_ids(created_at__before="2999-01-01T00:00:00Z")
    page = client.get("/workflows/logs", params={"page": 1, "limit": 1}).json()
    assert len(page["data"]) == 1 and page["has_more"] is True and page["total"] >= 2
    assert client.get("/workflows/logs?keyword=&status=").status_code == 200
    assert_envelope(
        client.get("/workflows/logs", params={"status": "running"}), 400, "invalid_param"
    )
    assert_envelope(client.get("/workflows/logs", params={"limit": 101}), 400, "invalid_param")
    assert_envelope(client.get("/workflows/logs", params={"created_at__after": "x"}), 400)


def test_run_and_stop_are_in_the_served_openapi(server: LiveServer) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    # Paths are relative to the document's server URL (`/v1`), as in the seed spec.
    assert spec["servers"][0]["url"].endswith("/v1")
    assert "post" in spec["paths"]["/workflows/run"]
    assert spec["paths"]["/workflows/run"]["post"]["summary"] == "Run Workflow"
    assert "post" in spec["paths"]["/workflows/tasks/{task_id}/stop"]
