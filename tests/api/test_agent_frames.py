"""Agent-chat wire frames from engine events (no server): `agent_message` for the answer,
`agent_thought` per round change for both strategies' logs, `message_file` for files an
agent's tools made."""

from __future__ import annotations

import json
from typing import Any

from chatflow.api.sse import ChatStreamEncoder
from chatflow.engine.events import AgentLog, NodeFinished, TextChunk
from chatflow.engine.files import File
from chatflow.services.agent_thoughts import AgentThoughts
from chatflow.services.turn import TurnInfo

INFO = TurnInfo(
    task_id="t", message_id="m", conversation_id="c", workflow_run_id="r", workflow_id="w",
    created_at=100, mode="agent-chat", end_user_id="e", user="u",
)  # fmt: skip


def log(log_id: str, label: str, status: str, parent: str | None = None, **data: Any) -> AgentLog:
    return AgentLog(
        node_id="agent", execution_id="x", id=log_id, label=label, status=status,
        data=data, parent_id=parent, metadata={"started_at": 1700000000.5},
    )  # fmt: skip


def test_answer_text_is_agent_message_and_empty_chunks_are_dropped() -> None:
    encoder = ChatStreamEncoder(INFO)
    [frame] = encoder.encode(TextChunk("Hi", "answer", ("agent", "text")))
    assert frame == {
        "event": "agent_message", "conversation_id": "c", "message_id": "m",
        "created_at": 100, "task_id": "t", "id": "m", "answer": "Hi",
    }  # fmt: skip
    assert encoder.encode(TextChunk("", "answer")) == []


def test_function_calling_rounds_become_one_thought_updated_twice() -> None:
    encoder = ChatStreamEncoder(INFO)
    frames = []
    for event in (
        log("r1", "ROUND 1", "start"),
        log("t1", "m Thought", "start", "r1"),
        log("t1", "m Thought", "success", "r1", output="Let me look.", tool_name="a;b",
            tool_input=[{"name": "a", "args": {"x": 1}}, {"name": "b", "args": {}}]),
        log("c1", "CALL a", "start", "r1"),
        log("c1", "CALL a", "success", "r1", output={"tool_response": "A"}),
        log("r1", "ROUND 1", "success", output={"llm_response": "Let me look.", "tool_responses": [
            {"tool_call_name": "a", "tool_response": "A"},
            {"tool_call_name": "b", "tool_response": "B"}]}),
        log("r2", "ROUND 2", "start"),
        log("t2", "m Thought", "success", "r2", output="Done.", tool_name="", tool_input=[]),
        log("r2", "ROUND 2", "success", output={"llm_response": "Done.", "tool_responses": []}),
    ):  # fmt: skip
        frames += encoder.encode(event)
    assert [f["event"] for f in frames] == ["agent_thought"] * 3
    first, observed, answer = frames
    assert first["id"] == observed["id"] != answer["id"]
    assert (first["position"], first["thought"], first["tool"]) == (1, "Let me look.", "a;b")
    assert json.loads(first["tool_input"]) == {"a": {"x": 1}, "b": {}}
    assert set(first["tool_labels"]) == {"a", "b"} and first["observation"] == ""
    assert json.loads(observed["observation"]) == {"a": "A", "b": "B"}
    assert first["created_at"] == 1700000000 and first["message_files"] == []
    assert (answer["position"], answer["thought"], answer["tool"]) == (2, "Done.", "")


def test_react_logs_make_the_same_thoughts() -> None:
    thoughts = AgentThoughts("m")
    thoughts.update(log("r1", "ROUND 1", "start"))
    changed = thoughts.update(
        log(
            "t1",
            "m Thought",
            "success",
            "r1",
            thought="search",
            action="web",
            action_input={"q": "x"},
        )
    )
    assert changed is not None and changed["tool"] == "web"
    assert json.loads(changed["tool_input"]) == {"web": {"q": "x"}}
    done = thoughts.update(
        log(
            "r1",
            "ROUND 1",
            "success",
            action_name="web",
            action_input={"q": "x"},
            thought="search",
            observation="found",
        )
    )
    assert done is not None and json.loads(done["observation"]) == {"web": "found"}
    thoughts.update(log("r2", "ROUND 2", "start"))
    final = thoughts.update(
        log(
            "t2", "m Thought", "success", "r2", thought="", action="Final Answer", action_input="42"
        )
    )
    assert final is not None and final["tool"] == ""
    assert [t["position"] for t in thoughts.thoughts] == [1, 2]
    assert all(t["message_id"] == "m" for t in thoughts.thoughts)


def test_files_an_agent_made_are_message_files() -> None:
    image = File("image", "tool_file", id="f1", url="/files/tools/f1.png", filename="f1.png")
    finished = NodeFinished(
        execution_id="x", node_id="agent", node_type="agent", title="Agent", index=1,
        predecessor_node_id=None, status="succeeded", inputs={}, process_data={},
        outputs={"text": "", "files": [image]}, error=None, error_type=None,
        started_at=1.0, finished_at=2.0,
    )  # fmt: skip
    [frame] = ChatStreamEncoder(INFO).encode(finished)
    assert frame["event"] == "message_file"
    assert (frame["id"], frame["type"], frame["belongs_to"], frame["url"]) == (
        "f1",
        "image",
        "assistant",
        "/files/tools/f1.png",
    )
