"""An agent-chat app through `/chat-messages`, driven by a published Dify client
(`dify-client`, in its own process): the model calls the real built-in time tool, the
stream carries `agent_thought` and `agent_message` frames as Dify's does, and
`GET /messages` lists the stored `agent_thoughts`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from chatflow.providers.base import LLMChunk, LLMRequest, ToolCall, Usage
from chatflow.providers.fake import FakeLLM, FakeRegistry

from .conftest import LiveServer
from .test_clients import CLIENTS, DRIVERS, _target

pytestmark = [pytest.mark.timeout(300)]


class TimeTeller(FakeLLM):
    """Calls the time tool first; once its result is in, answers with it."""

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        results = [m.content for m in request.messages if m.role == "tool"]
        if request.tools and not results:
            call = ToolCall("call_time", "current_time", json.dumps({}))
            yield LLMChunk(tool_calls=(call,))
            yield LLMChunk(
                usage=Usage(prompt_tokens=9, completion_tokens=3), finish_reason="tool_calls"
            )
            return
        for piece in ("It is ", results[-1] if results else "late", "."):
            yield LLMChunk(text=piece)
        yield LLMChunk(usage=Usage(prompt_tokens=12, completion_tokens=4), finish_reason="stop")


class LIVE_REGISTRY(FakeRegistry):
    """Every model is the time teller (the `server` fixture's model resets do not apply)."""

    teller = TimeTeller(["unused"])

    def llm(self, provider: str, model: str) -> FakeLLM:
        return self.teller


@pytest.mark.parametrize("live", ["sqlite", "postgresql"], indirect=True)
def test_agent_chat_streams_agent_events_to_a_published_client(server: LiveServer) -> None:
    requirement, _, _ = CLIENTS["dify-client"]
    assert requirement is not None
    done = subprocess.run(
        [sys.executable, "-u", str(DRIVERS / "agent_chat.py")],
        env={
            **os.environ,
            "PYTHONPATH": str(_target("dify-client", requirement)),
            "CHATFLOW_BASE_URL": server.base_url,
            "CHATFLOW_AGENT_KEY": server.keys["agent"],
        },
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    events = json.loads(lines["EVENTS"])
    kinds = [event["event"] for event in events]
    # Dify's agent-chat stream: thoughts and the answer as agent frames, then message_end.
    assert kinds[-1] == "message_end" and "message" not in kinds
    assert not any(k.startswith(("workflow_", "node_")) for k in kinds)
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    answer = "".join(e["answer"] for e in events if e["event"] == "agent_message")
    called = thoughts[0]
    assert (called["position"], called["tool"]) == (1, "current_time")
    assert json.loads(called["tool_input"]) == {"current_time": {}}
    observed = next(t for t in thoughts if t["observation"])
    assert observed["id"] == called["id"]  # the same thought, updated with the result
    time_text = json.loads(observed["observation"])["current_time"]
    assert time_text[:2] == "20" and answer == f"\nIt is {time_text}."
    assert thoughts[-1]["position"] == 2 and thoughts[-1]["thought"] == f"It is {time_text}."
    for event in thoughts:
        assert {"id", "task_id", "message_id", "conversation_id", "created_at"} <= set(event)
        assert set(event["tool_labels"]) == ({"current_time"} if event["tool"] else set())
    end = events[-1]
    assert end["metadata"]["usage"]["total_tokens"] == 28

    [message] = json.loads(lines["MESSAGES"])["data"]
    stored = message["agent_thoughts"]
    assert [t["id"] for t in stored] == [thoughts[0]["id"], thoughts[-1]["id"]]
    assert stored[0]["observation"] == observed["observation"]
    assert stored[0]["tool"] == "current_time" and stored[0]["message_id"] == message["id"]
    assert message["answer"] == answer
