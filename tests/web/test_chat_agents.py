"""Agents on the chat page, in Chromium against a live server whose model calls the real
built-in time tool once and then answers: an agent-chat app's tool calls (its
`agent_thought` frames) show above its answer, live and reloaded; a chatflow's agent node
shows its rounds and tool calls in the run trace, live and reloaded alike (the rounds are
stored with the node execution)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from chatflow.providers.base import LLMChunk, LLMRequest, ToolCall, Usage
from chatflow.providers.fake import FakeLLM, FakeRegistry
from tests.api.conftest import LiveServer
from tests.web.conftest import axe_violations, open_chat, page_client, shot

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)

AGENT_FLOW_DSL = """
app: {name: agent_flow, mode: advanced-chat, description: An agent node with a time tool, icon: '🕰️'}
kind: app
version: 0.3.0
workflow:
  conversation_variables: []
  environment_variables: []
  features: {}
  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: agent, targetHandle: target}
    - {id: e2, source: agent, sourceHandle: source, target: answer, targetHandle: target}
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: agent
      data:
        type: agent
        title: Timekeeper
        agent_strategy_provider_name: langgenius/agent/agent
        agent_strategy_name: function_calling
        agent_strategy_label: FunctionCalling
        agent_parameters:
          model:
            type: constant
            value: {provider: openai, model: gpt-4o-mini, mode: chat, model_type: llm,
                    completion_params: {}, type: model-selector}
          instruction: {type: constant, value: You tell the time. Use the tools.}
          query: {type: constant, value: '{{#sys.query#}}'}
          maximum_iterations: {type: constant, value: 3}
          tools:
            type: constant
            value:
            - {enabled: true, provider_name: time, tool_name: current_time, type: builtin,
               parameters: {}, extra: {description: the time}}
    - id: answer
      data: {type: answer, title: Answer, answer: '{{#agent.text#}}'}
"""


class TimeTeller(FakeLLM):
    """Calls the time tool first; once its result is in, answers with it."""

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        results = [m.content for m in request.messages if m.role == "tool"]
        if request.tools and not results:
            yield LLMChunk(tool_calls=(ToolCall("call_time", "current_time", json.dumps({})),))
            usage = Usage(prompt_tokens=9, completion_tokens=1)
            yield LLMChunk(usage=usage, finish_reason="tool_calls")
            return
        for piece in ("It is ", results[-1] if results else "late", "."):
            yield LLMChunk(text=piece)
        yield LLMChunk(usage=Usage(prompt_tokens=12, completion_tokens=3), finish_reason="stop")


class LIVE_REGISTRY(FakeRegistry):
    """Every model is the time teller (the `server` fixture's model resets do not apply)."""

    teller = TimeTeller(["unused"])

    def llm(self, provider: str, model: str) -> FakeLLM:
        return self.teller


@pytest.fixture
def context(scan_context: BrowserContext) -> BrowserContext:
    """Every page here is scanned with axe-core."""
    return scan_context


def send(page: Page, text: str) -> None:
    page.fill("#query", text)
    page.press("#query", "Enter")


def wait_idle(page: Page) -> None:
    expect(page.locator(".bubble.streaming")).to_have_count(0)
    expect(page.locator("#send")).to_be_visible()


def reload(page: Page) -> None:
    page.reload()
    page.wait_for_selector("body.ready")


def test_agent_chat_shows_its_tool_calls_live_and_reloaded(page: Page, server: LiveServer) -> None:
    open_chat(page, server, "agent")
    frames: list[str] = []
    page.on("request", lambda r: frames.append(r.url) if r.url.endswith("/chat-messages") else None)
    send(page, "What time is it?")
    answer = page.locator("#messages .msg.bot .answer").last
    expect(answer).to_have_text(re.compile(r"^It is 20\d\d-.+\.$"))
    wait_idle(page)
    call = page.locator("#messages .tool-call")
    expect(call.locator("summary")).to_have_text(["Used current_time"])
    call.locator("summary").click()
    time_text = answer.inner_text().removeprefix("It is ").removesuffix(".")
    expect(call.locator("pre")).to_have_text(["{}", time_text])
    # An agent app's stream has no node steps: no empty "Workflow steps" either.
    expect(page.locator("#messages .trace")).to_have_count(0)
    shot(page, "chat-agent-tool-calls")
    assert axe_violations(page) == []

    # What the page shows came from the stored message too.
    client = page_client(page, server, "agent")
    [conversation] = client.get("/conversations").json()["data"]
    params = {"conversation_id": conversation["id"]}
    [message] = client.get("/messages", params=params).json()["data"]
    assert message["agent_thoughts"][0]["tool"] == "current_time"
    reload(page)
    stored = page.locator("#messages .tool-call")
    expect(stored.locator("summary")).to_have_text(["Used current_time"])
    stored.locator("summary").click()
    expect(stored.locator("pre")).to_have_text(["{}", time_text])
    expect(page.locator("#messages .msg.bot .answer")).to_have_text(f"It is {time_text}.")
    assert len(frames) == 1


def agent_rounds(page: Page) -> Any:
    """The agent step's rounds as [label, [child labels], status] (the step opened first)."""
    step = page.locator("#messages .trace .step").filter(has_text="Timekeeper")
    step.locator("> details > summary").click()
    rounds = step.locator(".agent-log").first.locator("> li")
    expect(rounds).to_have_count(2)
    return rounds.evaluate_all(
        """items => items.map(li => [
          li.querySelector(".agent-label").textContent,
          [...li.querySelectorAll(":scope > ol > li > .agent-label")].map(e => e.textContent),
          li.className,
        ])"""
    )


def test_a_reloaded_trace_shows_the_same_agent_rounds(page: Page, server: LiveServer) -> None:
    server.call(server.services.apps.import_dsl(AGENT_FLOW_DSL))
    open_chat(page, server, "agent_flow")
    send(page, "What time is it?")
    expect(page.locator("#messages .msg.bot .answer").last).to_have_text(re.compile(r"^It is 20"))
    wait_idle(page)
    trace = page.locator("#messages .trace")
    expect(trace.locator("> summary")).to_have_text("Workflow steps (3)")
    trace.locator("> summary").click()
    live = agent_rounds(page)
    assert [label for label, _, _ in live] == ["ROUND 1", "ROUND 2"]
    assert any(child.startswith("CALL current_time") for child in live[0][1]), live
    assert all(cls == "agent-entry success" for _, _, cls in live), live
    # The tool's input and output are there to open.
    call = trace.locator(".agent-entry").filter(has_text="CALL current_time").first
    call.locator("> .agent-data > summary").click()
    expect(call.locator("> .agent-data pre")).to_contain_text("tool_response")
    shot(page, "chat-agent-trace-live")
    # Stored with the node execution, in Dify's `execution_metadata.agent_log` shape.
    client = page_client(page, server, "agent_flow")
    [conversation] = client.get("/conversations").json()["data"]
    params = {"conversation_id": conversation["id"]}
    [message] = client.get("/messages", params=params).json()["data"]
    nodes = client.get(f"/messages/{message['id']}/trace").json()["data"]
    [agent] = [n for n in nodes if n["node_type"] == "agent"]
    logs = agent["agent_log"]
    assert {log["label"] for log in logs if log["parent_id"] is None} == {"ROUND 1", "ROUND 2"}
    [tool] = [log for log in logs if log["label"].startswith("CALL current_time")]
    assert tool["status"] == "success" and tool["node_id"] == "agent"
    assert tool["data"]["output"]["tool_response"].startswith("20")

    reload(page)
    stored = page.locator("#messages .trace")
    expect(stored.locator("> summary")).to_have_text("Workflow steps")
    stored.locator("> summary").click()
    expect(stored.locator("> summary")).to_have_text("Workflow steps (3)")
    assert agent_rounds(page) == live
    call = stored.locator(".agent-entry").filter(has_text="CALL current_time").first
    call.locator("> .agent-data > summary").click()
    expect(call.locator("> .agent-data pre")).to_contain_text("tool_response")
    shot(page, "chat-agent-trace-reloaded")
    assert axe_violations(page) == []
