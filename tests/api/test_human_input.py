"""Human input on the wire: a chat turn pauses at the form, submitting resumes it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import ANSWER, LiveServer, assert_envelope, sse_events

pytestmark = pytest.mark.timeout(60)


def stream_chat(server: LiveServer, user: str = "alice", **body: Any) -> list[dict[str, Any]]:
    payload = {"inputs": {}, "query": "Hi", "user": user, "response_mode": "streaming", **body}
    with server.client("approval").stream("POST", "/chat-messages", json=payload) as response:
        assert response.status_code == 200
        raw = response.read()
    return [e for e in sse_events(iter(raw.decode().split("\n"))) if e["event"] != "ping"]


def run_events(server: LiveServer, run_id: str, user: str = "alice") -> list[dict[str, Any]]:
    client = server.client("approval")
    with client.stream("GET", f"/workflow/{run_id}/events", params={"user": user}) as response:
        assert response.status_code == 200, response.read()
        raw = response.read()
    return [e for e in sse_events(iter(raw.decode().split("\n"))) if e["event"] != "ping"]


def answer_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["answer"] for e in events if e["event"] == "message")


def pause(server: LiveServer, user: str = "alice") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events = stream_chat(server, user=user)
    required = next(e for e in events if e["event"] == "human_input_required")
    return events, required["data"]


def test_chat_pauses_at_the_form(server: LiveServer) -> None:
    events, form = pause(server)
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started"
    # Dify ends a paused stream with the form, then workflow_paused; no message_end.
    assert names[-2:] == ["human_input_required", "workflow_paused"]
    assert "message_end" not in names and "workflow_finished" not in names
    assert answer_of(events) == 'Checking "Hi". '
    run_id = events[0]["data"]["id"]
    assert form["node_id"] == "review" and form["node_title"] == "Review"
    assert form["form_content"] == "Reply to Hi? Note: {{#$output.note#}}"
    assert form["resolved_default_values"] == {"note": "Hi"}
    assert [a["id"] for a in form["actions"]] == ["approve", "reject"]
    assert form["inputs"][0]["output_variable_name"] == "note"
    assert form["display_in_ui"] is True and form["form_token"]
    now = datetime.now(UTC).timestamp()
    assert isinstance(form["expiration_time"], int)
    assert now + 3500 < form["expiration_time"] <= now + 3601
    paused = events[-1]
    assert paused["workflow_run_id"] == run_id
    data = paused["data"]
    assert data["workflow_run_id"] == run_id and data["status"] == "paused"
    assert data["paused_nodes"] == ["review"] and data["outputs"] == {}
    assert data["reasons"][0]["TYPE"] == "human_input_required"
    assert data["reasons"][0]["form_id"] == form["form_id"]
    assert data["total_steps"] == 3 and isinstance(data["created_at"], int)
    for frame in events:
        assert frame["message_id"] == events[0]["message_id"]
    # The run is recorded as paused.
    detail = server.client("approval").get(f"/workflows/run/{run_id}")
    assert detail.status_code == 200 and detail.json()["status"] == "paused"


def test_form_lookup_matches_dify(server: LiveServer) -> None:
    _, form = pause(server)
    client = server.client("approval")
    response = client.get(f"/form/human_input/{form['form_token']}")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "form_content": "Reply to Hi? Note: {{#$output.note#}}",
        "inputs": form["inputs"],
        "resolved_default_values": {"note": "Hi"},
        "user_actions": form["actions"],
        "expiration_time": form["expiration_time"],
    }
    other = client.get(f"/form/human_input/{form['form_token']}", params={"user": "mallory"})
    assert_envelope(other, 404, "not_found")
    assert_envelope(client.get("/form/human_input/nope"), 404, "not_found")


def test_submit_resumes_the_run_and_completes_the_answer(server: LiveServer) -> None:
    events, form = pause(server)
    run_id = events[0]["data"]["id"]
    message_id, conversation_id = events[0]["message_id"], events[0]["conversation_id"]
    client = server.client("approval")
    response = client.post(
        f"/form/human_input/{form['form_token']}",
        json={"inputs": {"note": "ship it"}, "action": "approve", "user": "alice"},
    )
    assert response.status_code == 200 and response.json() == {}

    resumed = run_events(server, run_id)
    names = [e["event"] for e in resumed]
    assert resumed[0]["event"] == "workflow_started"
    assert resumed[0]["data"]["reason"] == "resumption" and resumed[0]["data"]["id"] == run_id
    filled = next(e for e in resumed if e["event"] == "human_input_form_filled")
    assert filled["data"] == {
        "node_id": "review",
        "node_title": "Review",
        "rendered_content": "Reply to Hi? Note: ship it",
        "action_id": "approve",
        "action_text": "Approve",
    }
    assert names[-2:] == ["message_end", "workflow_finished"]
    assert resumed[-1]["data"]["status"] == "succeeded"
    assert answer_of(resumed) == f"{ANSWER} [ship it]"
    for frame in resumed:
        assert frame["message_id"] == message_id
        assert frame["conversation_id"] == conversation_id
    nodes = [e["data"]["node_id"] for e in resumed if e["event"] == "node_finished"]
    assert nodes == ["review", "llm", "approved"]

    # The message holds the whole answer, both segments.
    messages = client.get(
        "/messages", params={"conversation_id": conversation_id, "user": "alice"}
    ).json()["data"]
    assert messages[-1]["id"] == message_id
    assert messages[-1]["answer"] == f'Checking "Hi". {ANSWER} [ship it]'

    again = client.post(
        f"/form/human_input/{form['form_token']}",
        json={"inputs": {"note": "x"}, "action": "approve", "user": "alice"},
    )
    assert_envelope(again, 412, "human_input_form_submitted")


def test_reject_takes_the_other_branch(server: LiveServer) -> None:
    events, form = pause(server)
    response = server.client("approval").post(
        f"/form/human_input/{form['form_token']}",
        json={"inputs": {"note": "no"}, "action": "reject", "user": "alice"},
    )
    assert response.status_code == 200
    resumed = run_events(server, events[0]["data"]["id"])
    assert answer_of(resumed) == "Rejected: no"
    assert resumed[-1]["event"] == "workflow_finished"


def test_bad_submissions(server: LiveServer) -> None:
    events, form = pause(server)
    client = server.client("approval")
    url = f"/form/human_input/{form['form_token']}"
    unknown = client.post(url, json={"inputs": {"note": "x"}, "action": "nope", "user": "alice"})
    body = assert_envelope(unknown, 400, "invalid_form_data")
    assert body["message"] == "Invalid action: nope"
    missing = client.post(url, json={"inputs": {}, "action": "approve", "user": "alice"})
    assert assert_envelope(missing, 400, "invalid_form_data")["message"] == (
        "Missing required inputs: note"
    )
    # Another end user of the app does not see the form.
    other = client.post(url, json={"inputs": {"note": "x"}, "action": "approve", "user": "bob"})
    assert_envelope(other, 404, "not_found")
    assert_envelope(client.post(url, json={"inputs": {}, "action": "approve"}), 400)
    # ... nor the run's events.
    response = client.get(f"/workflow/{events[0]['data']['id']}/events", params={"user": "bob"})
    assert_envelope(response, 404, "not_found")
    # The form is still open after all that.
    assert client.get(url).status_code == 200


def test_blocking_turn_returns_the_answer_so_far(server: LiveServer) -> None:
    response = server.client("approval").post(
        "/chat-messages",
        json={"inputs": {}, "query": "Yo", "user": "carol", "response_mode": "blocking"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == 'Checking "Yo". '


def test_expired_form_times_out_onto_the_timeout_branch(server: LiveServer) -> None:
    events, form = pause(server, user="dave")
    run_id = events[0]["data"]["id"]
    later = datetime.now(UTC) + timedelta(hours=2)
    timed_out = server.call(server.services.human_input.sweep(later))
    assert timed_out >= 1
    client = server.client("approval")
    expired = client.get(f"/form/human_input/{form['form_token']}")
    assert_envelope(expired, 412, "human_input_form_expired")
    submit = client.post(
        f"/form/human_input/{form['form_token']}",
        json={"inputs": {"note": "late"}, "action": "approve", "user": "dave"},
    )
    assert_envelope(submit, 412, "human_input_form_expired")
    resumed = run_events(server, run_id, user="dave")
    timeout = next(e for e in resumed if e["event"] == "human_input_form_timeout")
    assert timeout["data"]["node_id"] == "review"
    assert timeout["data"]["expiration_time"] == form["expiration_time"]
    assert answer_of(resumed) == "Nobody reviewed it."
    assert resumed[-1]["event"] == "workflow_finished"
    assert resumed[-1]["data"]["status"] == "succeeded"


def stream_workflow(server: LiveServer, user: str, topic: str) -> list[dict[str, Any]]:
    payload = {"inputs": {"topic": topic}, "user": user, "response_mode": "streaming"}
    client = server.client("workflow_approval")
    with client.stream("POST", "/workflows/run", json=payload) as response:
        assert response.status_code == 200
        raw = response.read()
    return [e for e in sse_events(iter(raw.decode().split("\n"))) if e["event"] != "ping"]


def test_workflow_run_pauses_and_resumes(server: LiveServer) -> None:
    events = stream_workflow(server, "erin", "cats")
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started"
    assert names[-2:] == ["human_input_required", "workflow_paused"]
    assert "workflow_finished" not in names
    run_id, task_id = events[0]["workflow_run_id"], events[0]["task_id"]
    for frame in events:  # the workflow envelope: no message or conversation ids
        assert frame["workflow_run_id"] == run_id and frame["task_id"] == task_id
        assert "message_id" not in frame
    form = events[-2]["data"]
    assert form["node_id"] == "review" and form["resolved_default_values"] == {"note": "cats"}
    assert events[-1]["data"]["status"] == "paused"
    assert events[-1]["data"]["paused_nodes"] == ["review"]
    client = server.client("workflow_approval")
    assert client.get(f"/workflows/run/{run_id}").json()["status"] == "paused"

    response = client.post(
        f"/form/human_input/{form['form_token']}",
        json={"inputs": {"note": "go"}, "action": "approve", "user": "erin"},
    )
    assert response.status_code == 200 and response.json() == {}
    with client.stream("GET", f"/workflow/{run_id}/events", params={"user": "erin"}) as stream:
        assert stream.status_code == 200
        raw = stream.read()
    resumed = [e for e in sse_events(iter(raw.decode().split("\n"))) if e["event"] != "ping"]
    assert resumed[0]["event"] == "workflow_started"
    assert resumed[0]["data"]["reason"] == "resumption"
    assert any(e["event"] == "human_input_form_filled" for e in resumed)
    assert resumed[-1]["event"] == "workflow_finished"
    assert "message_end" not in [e["event"] for e in resumed]
    finished = resumed[-1]["data"]
    assert finished["id"] == run_id and finished["status"] == "succeeded"
    assert finished["outputs"] == {"verdict": "approve", "note": "go"}
    detail = client.get(f"/workflows/run/{run_id}").json()
    assert detail["status"] == "succeeded"
    assert json.loads(detail["outputs"]) == {"verdict": "approve", "note": "go"}
