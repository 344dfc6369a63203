"""A workflow app's site (`/api/workflows/...`): each browser session runs, stops, resumes
and reads only its own runs; bad requests get Dify's envelope. On SQLite and Postgres."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import ANSWER, LiveServer, assert_envelope


def run(client: httpx.Client, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """One streamed run's frames (pings dropped)."""
    frames = []
    with client.stream("POST", "/workflows/run", json={"inputs": inputs}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                frames.append(json.loads(line[5:]))
    return frames


def test_a_run_streams_and_is_listed_for_its_session_only(server: LiveServer) -> None:
    alice, bob = server.web_client("workflow"), server.web_client("workflow")
    frames = run(alice, {"topic": "tides"})
    kinds = [f["event"] for f in frames]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_finished"
    assert "node_started" in kinds and "node_finished" in kinds
    finished = frames[-1]["data"]
    assert finished["status"] == "succeeded"
    assert finished["outputs"]["text"] == ANSWER and finished["outputs"]["topic"] == "tides"
    run_id = frames[0]["workflow_run_id"]

    listed = alice.get("/workflows/runs").json()
    assert (listed["total"], listed["has_more"]) == (1, False)
    [item] = listed["data"]
    assert (item["id"], item["status"], item["inputs"]) == (run_id, "succeeded", {"topic": "tides"})
    assert item["outputs"]["text"] == ANSWER
    detail = alice.get(f"/workflows/runs/{run_id}").json()
    assert [n["node_id"] for n in detail["nodes"]] == ["start", "llm", "extract", "end"]
    assert all(n["status"] == "succeeded" for n in detail["nodes"])

    # Another browser sees none of it, and cannot read it by id.
    assert bob.get("/workflows/runs").json() == {
        "page": 1, "limit": 20, "total": 0, "has_more": False, "data": [],
    }  # fmt: skip
    assert_envelope(bob.get(f"/workflows/runs/{run_id}"), 404, "not_found")
    # Nor through another app's site, nor the service API's user for it.
    chat_site = server.web_client()
    assert_envelope(chat_site.get(f"/workflows/runs/{run_id}"), 400, "not_workflow_app")


def test_paging_runs(server: LiveServer) -> None:
    alice = server.web_client("workflow")
    for topic in ("one", "two", "three"):
        run(alice, {"topic": topic})
    first = alice.get("/workflows/runs", params={"limit": 2}).json()
    assert [r["inputs"]["topic"] for r in first["data"]] == ["three", "two"]
    assert (first["total"], first["has_more"]) == (3, True)
    second = alice.get("/workflows/runs", params={"limit": 2, "page": 2}).json()
    assert [r["inputs"]["topic"] for r in second["data"]] == ["one"]
    assert second["has_more"] is False


def test_the_trace_follows_the_sites_setting(server: LiveServer) -> None:
    alice = server.web_client("workflow")
    run_id = run(alice, {"topic": "moss"})[0]["workflow_run_id"]
    sites = server.services.sites
    server.call(sites.configure("workflow", show_workflow_steps=False))
    try:
        detail = alice.get(f"/workflows/runs/{run_id}").json()
        assert detail["nodes"] is None and detail["outputs"]["topic"] == "moss"
    finally:
        server.call(sites.configure("workflow", show_workflow_steps=True))


def test_stop_reaches_only_the_sessions_own_run(server: LiveServer) -> None:
    server.slow(0.05)  # 200 tokens: ten seconds unless stopped
    alice, bob = server.web_client("workflow"), server.web_client("workflow")
    with alice.stream("POST", "/workflows/run", json={"inputs": {"topic": "x"}}) as response:
        lines = response.iter_lines()
        started = next(json.loads(x[5:]) for x in lines if x.startswith("data:"))
        task_id = started["task_id"]
        # Another session's stop is answered like Dify's, and stops nothing.
        assert bob.post(f"/workflows/tasks/{task_id}/stop", json={}).json() == {"result": "success"}
        assert_envelope(bob.get(f"/workflows/tasks/{task_id}/events"), 404, "not_found")
        assert alice.post(f"/workflows/tasks/{task_id}/stop", json={}).status_code == 200
        frames = [json.loads(x[5:]) for x in lines if x.startswith("data:")]
    assert frames[-1]["event"] == "workflow_finished"
    assert frames[-1]["data"]["status"] == "stopped"
    [item] = alice.get("/workflows/runs").json()["data"]
    assert item["status"] == "stopped"


def test_reconnecting_replays_the_run(server: LiveServer) -> None:
    alice = server.web_client("workflow")
    frames = run(alice, {"topic": "again"})
    task_id = frames[0]["task_id"]
    with alice.stream("GET", f"/workflows/tasks/{task_id}/events") as response:
        assert response.status_code == 200
        replay = [json.loads(x[5:]) for x in response.iter_lines() if x.startswith("data:")]
    assert [f["event"] for f in replay] == [f["event"] for f in frames]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid_param"),  # Dify's payload requires `inputs`
        ({"inputs": "tides"}, 400, "invalid_param"),
        ({"inputs": {}}, 400, None),  # the required topic is missing
        ({"inputs": {"topic": "x" * 49}}, 400, None),  # over its max_length
        ({"inputs": {"topic": "x"}, "files": "nope"}, 400, "invalid_param"),
    ],
)
def test_bad_runs_get_difys_envelope(
    server: LiveServer, body: dict[str, Any], status: int, code: str | None
) -> None:
    alice = server.web_client("workflow")
    assert_envelope(alice.post("/workflows/run", json=body), status, code)
    assert alice.get("/workflows/runs").json()["total"] == 0


def test_wrong_apps_sessions_and_params(server: LiveServer) -> None:
    chat_site = server.web_client()
    response = chat_site.post("/workflows/run", json={"inputs": {}})
    assert_envelope(response, 400, "not_workflow_app")
    assert_envelope(chat_site.get("/workflows/runs"), 400, "not_workflow_app")
    assert_envelope(chat_site.post("/workflows/tasks/t/stop", json={}), 400, "not_workflow_app")
    code = server.site("workflow")
    with httpx.Client(base_url=server.origin() + "/api", headers={"X-App-Code": code}) as anon:
        response = anon.post("/workflows/run", json={"inputs": {"topic": "x"}})
        assert_envelope(response, 401, "web_session_required")
        assert_envelope(anon.get("/workflows/runs"), 401, "web_session_required")
    alice = server.web_client("workflow")
    for params in ({"limit": "0"}, {"limit": "101"}, {"page": "0"}, {"limit": "many"}):
        assert_envelope(alice.get("/workflows/runs", params=params), 400)
    assert_envelope(alice.get("/workflows/runs/no-such-run"), 404, "not_found")
    # A write from another site is refused before anything runs.
    response = alice.post(
        "/workflows/run", json={"inputs": {"topic": "x"}}, headers={"Origin": "https://evil"}
    )
    assert_envelope(response, 403, "forbidden")
