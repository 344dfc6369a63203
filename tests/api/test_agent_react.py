"""A ReAct agent-chat app through `/chat-messages`: the model writes one token at a time;
its thought streams as `agent_message` frames while it writes (the action's JSON blob
held back), the real built-in time tool runs, `agent_thought` frames carry the round's
thought, tool and observation, and the final answer streams after them."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatflow.providers.base import LLMChunk, LLMRequest, Usage
from chatflow.providers.fake import FakeLLM

from .conftest import LiveServer, sse_events

pytestmark = pytest.mark.timeout(60)

ACTION = 'Action: ```json\n{"action": "current_time", "action_input": {}}\n```'


class ReactTimeTeller(FakeLLM):
    """Writes a ReAct reply a character at a time: first the time tool's action, then,
    once the scratchpad has its observation, the final answer quoting it."""

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.calls += 1
        pad = request.messages[-2].content if request.messages[-1].content == "continue" else ""
        seen = re.search(r"Observation: (.+?)\n", pad)
        if seen is None:
            reply = f"Thought: I should look at the clock.\n{ACTION}"
        else:
            reply = f"Thought: I know the time now.\nFinal Answer: It is {seen.group(1)}."
        for char in reply:
            yield LLMChunk(text=char)
        yield LLMChunk(usage=Usage(prompt_tokens=10, completion_tokens=len(reply)))


def stream(server: LiveServer) -> list[dict[str, Any]]:
    body = {"inputs": {}, "query": "What time?", "user": "alice", "response_mode": "streaming"}
    with server.client("agent-react").stream("POST", "/chat-messages", json=body) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    return [e for e in sse_events(iter(raw.split("\n"))) if e["event"] != "ping"]


def test_react_thoughts_stream_as_agent_messages_and_the_tool_runs(server: LiveServer) -> None:
    server.registry.fake = ReactTimeTeller([])
    frames = stream(server)
    kinds = [f["event"] for f in frames]
    assert kinds[-1] == "message_end", frames[-3:]
    messages = [f["answer"] for f in frames if f["event"] == "agent_message"]
    assert len(messages) > 20  # a frame per token, not one per reply
    answer = "".join(messages)
    thoughts = [f for f in frames if f["event"] == "agent_thought"]
    called = next(t for t in thoughts if t["tool"])
    observed = next(t for t in thoughts if t["observation"])
    assert called["id"] == observed["id"] and called["tool"] == "current_time"
    assert called["thought"] == "I should look at the clock."
    time_text = json.loads(observed["observation"])["current_time"]
    assert time_text[:2] == "20"
    assert answer == f"I should look at the clock.\nI know the time now.\nIt is {time_text}."
    assert "{" not in answer and "Action" not in answer and "Thought" not in answer
    # The first thought's text went out before the tool ran (before its agent_thought).
    first_text = kinds.index("agent_message")
    assert first_text < kinds.index("agent_thought")
    assert thoughts[-1]["thought"] == "I know the time now."

    params = {"conversation_id": frames[-1]["conversation_id"], "user": "alice"}
    [message] = server.client("agent-react").get("/messages", params=params).json()["data"]
    assert message["answer"] == answer
    assert [t["tool"] for t in message["agent_thoughts"]] == ["current_time", ""]
