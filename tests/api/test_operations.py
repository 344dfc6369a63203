"""Operations endpoints and per-request plumbing on a live server (SQLite and Postgres):
`/healthz`, `/readyz`, `/metrics`, `X-Request-Id`, and one structured log line per
request and per run carrying the request, app, task and run ids."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatflow.observability.logs import JsonFormatter, TextFormatter
from chatflow.providers.embedded import MODEL_QUEUE

from .conftest import LiveServer, sse_events

LIVE_SETTINGS = {"model_queue_max": 2}
CHAT = {"inputs": {}, "query": "hi", "user": "ops-user", "response_mode": "streaming"}


def _root(server: LiveServer) -> str:
    return server.base_url.removesuffix("/v1")


def _metrics(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{_root(server)}/metrics", timeout=10).text
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_healthz_answers_with_a_new_request_id(server: LiveServer) -> None:
    response = httpx.get(f"{_root(server)}/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert uuid.UUID(request_id).version == 4 and uuid.UUID(request_id).hex == request_id
    assert httpx.get(f"{_root(server)}/healthz").headers["x-request-id"] != request_id


def test_the_clients_request_id_is_echoed_when_safe(server: LiveServer) -> None:
    with server.client() as client:
        ok = client.get("/parameters", headers={"X-Request-Id": "trace-42.a:b"})
        assert ok.status_code == 200 and ok.headers["x-request-id"] == "trace-42.a:b"
        # Errors carry it too, in Dify's envelope.
        bad = client.get("/messages", headers={"X-Request-Id": "trace-43"})
        assert bad.status_code == 400 and bad.headers["x-request-id"] == "trace-43"
        assert set(bad.json()) == {"code", "message", "status"}
        # Not echoed into our logs and headers: too long, or with spaces / newlines.
        for hostile in ("x" * 200, "a b", "a\tb"):
            echoed = client.get("/parameters", headers={"X-Request-Id": hostile})
            assert echoed.headers["x-request-id"] != hostile
            assert len(echoed.headers["x-request-id"]) == 32
    unauthorized = httpx.get(f"{server.base_url}/parameters", headers={"X-Request-Id": "r1"})
    assert unauthorized.status_code == 401 and unauthorized.headers["x-request-id"] == "r1"


def test_readyz_checks_the_database_and_says_draining(server: LiveServer) -> None:
    ready = httpx.get(f"{_root(server)}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok"}
    shutdown = server.app.state.shutdown
    shutdown.draining = True
    try:
        draining = httpx.get(f"{_root(server)}/readyz")
        assert draining.status_code == 503
        assert draining.json()["checks"]["shutdown"] == "draining"
    finally:
        shutdown.draining = False


def test_metrics_count_requests_runs_nodes_and_tokens(server: LiveServer) -> None:
    before = _metrics(server)
    with server.client() as client:
        with client.stream("POST", "/chat-messages", json=CHAT) as response:
            assert response.status_code == 200
            events = [e["event"] for e in sse_events(response.iter_lines())]
        assert "message_end" in events
        assert client.get("/conversations/nope", params={"user": "x"}).status_code in (404, 405)
        assert client.get("/chat-messages").status_code == 405
    after = _metrics(server)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    route = {"route": "/v1/chat-messages", "method": "POST"}
    assert grew("chatflow_http_requests_total", status="200", **route) == 1
    assert grew("chatflow_http_request_duration_seconds_count", **route) == 1
    # A wrong method is counted under the route it missed.
    assert grew("chatflow_http_requests_total", status="405", **{**route, "method": "GET"}) == 1
    assert grew("chatflow_runs_total", mode="advanced-chat", status="succeeded") == 1
    assert grew("chatflow_node_runs_total", type="llm", status="succeeded") == 1
    assert grew("chatflow_node_run_duration_seconds_count", type="llm") == 1
    assert grew("chatflow_model_tokens_total", kind="completion") > 0
    # Nothing is left counted as open once the stream is over.
    assert _value(after, "chatflow_open_streams") == 0
    assert _value(after, "chatflow_active_runs") == 0
    for name in ("chatflow_db_pool_checked_out", "chatflow_sandbox_queue_depth"):
        assert (name, ()) in after
    # Unknown paths share one label instead of one series each.
    assert not any("nope" in str(labels) for _, labels in after)


def test_open_streams_and_active_runs_while_a_stream_runs(server: LiveServer) -> None:
    server.slow(0.02)
    seen: dict[str, float] = {}
    started = threading.Event()

    def stream() -> None:
        with server.client() as client:
            with client.stream("POST", "/chat-messages", json=CHAT) as response:
                for line in response.iter_lines():
                    if '"event": "message"' in line or '"event":"message"' in line:
                        started.set()

    worker = threading.Thread(target=stream)
    worker.start()
    assert started.wait(10)
    samples = _metrics(server)
    seen["streams"] = _value(samples, "chatflow_open_streams")
    seen["runs"] = _value(samples, "chatflow_active_runs")
    worker.join(20)
    assert seen == {"streams": 1, "runs": 1}


def test_one_log_line_per_request_and_per_run_with_their_ids(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with server.client() as client:
        with client.stream(
            "POST", "/chat-messages", json=CHAT, headers={"X-Request-Id": "req-ops-1"}
        ) as response:
            frames = list(sse_events(response.iter_lines()))
    task_id = next(f["task_id"] for f in frames if "task_id" in f)
    run_id = next(f["workflow_run_id"] for f in frames if "workflow_run_id" in f)
    # The ids come from the record or from the request's context, as the formatter sees it.
    lines: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 5
    while "chatflow.access" not in lines and time.monotonic() < deadline:
        time.sleep(0.05)
        for record in caplog.records:
            line = json.loads(JsonFormatter().format(record))
            if line.get("request_id") == "req-ops-1":
                lines[record.name] = line
                if record.name == "chatflow.access":
                    access = record
    assert set(lines) >= {"chatflow.access", "chatflow.runs"}
    run_line, request_line = lines["chatflow.runs"], lines["chatflow.access"]
    for line in (run_line, request_line):
        assert line["request_id"] == "req-ops-1"
        assert line["task_id"] == task_id and line["run_id"] == run_id
        assert line["app_id"] and line["level"] == "info" and line["ts"].endswith("Z")
    assert run_line["status"] == "succeeded" and run_line["mode"] == "advanced-chat"
    assert request_line["status"] == 200 and request_line["route"] == "/v1/chat-messages"
    assert request_line["duration_ms"] > 0

    text = TextFormatter().format(access)
    assert "request_id=req-ops-1" in text and f"task_id={task_id}" in text
    assert "\n" not in text


def test_a_full_model_queue_answers_429_until_it_drains(server: LiveServer) -> None:
    """Two embedded-model requests waiting (model_queue_max=2): new runs are refused in
    Dify's envelope at once, nothing is started, and accepted again once one leaves."""
    before = _metrics(server)
    with server.client() as client:
        with client.stream("POST", "/chat-messages", json=CHAT) as response:
            assert response.headers["x-chatflow-model-queue"] == "0"
            list(response.iter_lines())
        MODEL_QUEUE.enter()
        MODEL_QUEUE.enter()
        try:
            for mode in ("streaming", "blocking"):
                refused = client.post("/chat-messages", json={**CHAT, "response_mode": mode})
                assert refused.status_code == 429
                body = refused.json()
                assert set(body) == {"code", "message", "status"}
                assert body["code"] == "too_many_requests" and body["status"] == 429
            workflow = client.post("/workflows/run", json={"inputs": {}, "user": "u"})
            assert workflow.status_code == 429
            assert _value(_metrics(server), "chatflow_model_queue_depth") == 2
            MODEL_QUEUE.left(started=False)
            with client.stream("POST", "/chat-messages", json=CHAT) as response:
                assert response.status_code == 200
                assert response.headers["x-chatflow-model-queue"] == "1"
                list(response.iter_lines())
        finally:
            while MODEL_QUEUE.waiting:
                MODEL_QUEUE.left(started=False)
    after = _metrics(server)
    assert (
        _value(after, "chatflow_rejected_runs_total")
        - _value(before, "chatflow_rejected_runs_total")
        == 3
    )
