"""`AgentThoughts` edge cases (the main flows are in tests/api/test_agent_frames.py):
logs of an unknown round or a tool call's own log change nothing, a round's end without
results changes nothing, thought ids are the same in every worker that folds the same
logs, and a returned thought is a copy the caller may keep."""

from __future__ import annotations

import json
from typing import Any

from chatflow.engine.events import AgentLog
from chatflow.services.agent_thoughts import AgentThoughts, stream_frame


def log(log_id: str, status: str, parent: str | None = None, **data: Any) -> AgentLog:
    return AgentLog(
        node_id="agent", execution_id="x", id=log_id, label=log_id, status=status,
        data=data, parent_id=parent, metadata={"started_at": 12.9},
    )  # fmt: skip


def _model_turn(parent: str) -> AgentLog:
    return log(
        "t-" + parent, "success", parent, output="Looking.", tool_name="search",
        tool_input=[{"name": "search", "args": {"q": "x"}}, {"args": {}}, "junk"],
    )  # fmt: skip


def test_what_changes_no_thought() -> None:
    thoughts = AgentThoughts("m")
    assert thoughts.update(log("r1", "start")) is None  # a round opens: nothing to send
    assert thoughts.update(_model_turn("r-unknown")) is None
    assert thoughts.update(log("r-unknown", "success", output={})) is None
    assert thoughts.update(log("t1", "start", "r1")) is None
    assert thoughts.update(log("c1", "success", "r1", output={"tool_response": "A"})) is None
    # Function calling, no tool responses; ReAct, an observation but no tool chosen.
    assert thoughts.update(log("r1", "success", output={"tool_responses": []})) is None
    assert thoughts.update(log("r1", "success", observation="seen")) is None
    [thought] = thoughts.thoughts
    assert (thought["thought"], thought["tool"], thought["observation"]) == ("", "", "")
    assert thought["created_at"] == 12


def test_ids_are_shared_across_workers_and_thoughts_are_copies() -> None:
    first, second = AgentThoughts("m"), AgentThoughts("m")
    for thoughts in (first, second):
        thoughts.update(log("r1", "start"))
    a = first.update(_model_turn("r1"))
    b = second.update(_model_turn("r1"))
    assert a is not None and b is not None and a["id"] == b["id"]
    assert json.loads(a["tool_input"]) == {"search": {"q": "x"}}  # malformed items dropped
    assert a["tool_labels"] == {"search": {"en_US": "search", "zh_Hans": "search"}}
    a["thought"] = "changed by the caller"
    assert first.thoughts[0]["thought"] == "Looking."
    frame = stream_frame(first.thoughts[0])
    assert frame["position"] == 1 and frame["message_files"] == []
    assert set(frame) == {"id", "position", "thought", "observation", "tool", "tool_labels",
                          "tool_input", "message_files"}  # fmt: skip
    # Another round id is another thought id, in order.
    first.update(log("r2", "start"))
    assert [t["position"] for t in first.thoughts] == [1, 2]
    assert first.thoughts[0]["id"] != first.thoughts[1]["id"]
