"""The corpus's agent apps run end to end with their tools served by loopback stand-ins:
real FastMCP servers on 127.0.0.1 (the official `mcp` SDK), reached through the real
tool runtime (an operator mapping sends DuckDuckGo to the stand-in) and through the
`mcp_agent` strategy's own server list (the DSL's remote URL rewritten to loopback).
The model is scripted: it calls the tool the case names, then answers with its result.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.fastmcp import FastMCP

from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import AgentLog, NodeFinished, RunFinished, TextChunk
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes.base import EngineServices
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.net.ssrf import SSRFPolicy
from chatflow.providers.base import LLMChunk, LLMRequest, ToolCall, Usage
from chatflow.providers.fake import FakeLLM, FakeRegistry
from chatflow.services.agent_mcp import AgentMcpServers
from chatflow.settings import Settings
from chatflow.tools.catalog import builtin_providers
from chatflow.tools.mcp.connect import McpServer
from chatflow.tools.mcp.provider import McpProvider
from chatflow.tools.registry import ToolRegistry
from chatflow.tools.runtime import ToolRuntimeService
from tests.engine.corpus_cases import DSL_DIR
from tests.tools.loopback import serve

pytestmark = pytest.mark.skipif(
    not Path(DSL_DIR).is_dir(), reason="the shared corpus is not beside this checkout"
)
LOOPBACK = "127.0.0.1"
SETTINGS = Settings()
HOTELS = "Kensington Hotel, 4.6 stars, $350/night"


def stand_in() -> FastMCP:
    mcp = FastMCP("stand-in", log_level="WARNING")

    @mcp.tool()
    def ddgo_search(query: str, max_results: int = 5, require_summary: bool = False) -> str:
        """DuckDuckGo search (stand-in)."""
        return f"{query}: {HOTELS}"

    @mcp.tool()
    def text_to_image(prompt: str) -> str:
        """Draw a picture (stand-in)."""
        return f"![{prompt}](https://images.example/cat.png)"

    return mcp


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with serve(stand_in().streamable_http_app()) as http, serve(stand_in().sse_app()) as sse:
        yield f"{http}/mcp", f"{sse}/sse"


def _dsl(name: str) -> str:
    return Path(DSL_DIR, name).read_text(encoding="utf-8")


class CallThenAnswer(FakeLLM):
    """Calls `tool` with `arguments` while no tool has answered, then answers with the
    result."""

    def __init__(self, tool: str, arguments: dict[str, Any]) -> None:
        super().__init__(["unused"])
        self.tool, self.arguments = tool, arguments
        self.offered: list[list[str]] = []

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        self.offered.append([tool.name for tool in request.tools])
        results = [m.content for m in request.messages if m.role == "tool"]
        if request.tools and not results:
            call = ToolCall("call_1", self.tool, json.dumps(self.arguments))
            yield LLMChunk(tool_calls=(call,))
        else:
            yield LLMChunk(text=f"Here you go: {results[-1] if results else '?'}")
        yield LLMChunk(usage=Usage(prompt_tokens=10, completion_tokens=5), finish_reason="stop")


async def _run(
    text: str, model: CallThenAnswer, services: dict[str, Any], **inputs: Any
) -> list[Any]:
    graph = to_graph(load_app(text))
    system = {"query": "London, 2 days, $800", "conversation_id": "c", "user_id": "u",
              "app_id": "a", "files": [], "dialogue_count": 0}  # fmt: skip
    engine = EngineServices(
        models=FakeRegistry(model), limits=EngineLimits(), ssrf_allow=LOOPBACK, **services
    )
    pool = VariablePool(system=system, conversation={"History": []})
    return [e async for e in run_graph(graph, pool=pool, services=engine, inputs=inputs)]


async def test_travel_agent_searches_through_a_mapped_stand_in(
    servers: tuple[str, str],
) -> None:
    http_url, _ = servers
    search = McpProvider("search", McpServer.http(http_url), policy=SSRFPolicy.parse(LOOPBACK))
    registry = ToolRegistry([*builtin_providers(SETTINGS), search])
    registry.map("langgenius/duckduckgo/duckduckgo", "search")  # `chatflow tools map`
    model = CallThenAnswer("ddgo_search", {"query": "London hotels"})
    try:
        text = _dsl("travel-agent-demo.yml")
        events = await _run(text, model, {"tools": ToolRuntimeService(registry)})
    finally:
        await search.aclose()
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == "succeeded", final.error
    answer = "".join(e.text for e in events if isinstance(e, TextChunk))
    assert f"Here you go: London hotels: {HOTELS}" in answer
    assert model.offered[0] == ["ddgo_search"]  # the tool's schema came from the stand-in
    calls = [e for e in events if isinstance(e, AgentLog) and e.label == "CALL ddgo_search"]
    done = calls[-1].data["output"]
    assert done["tool_call_input"]["query"] == "London hotels"
    assert done["tool_call_input"]["max_results"] == 5  # the DSL's fixed setting


async def test_doubao_mcp_agent_uses_its_mcp_server_list(servers: tuple[str, str]) -> None:
    _, sse_url = servers
    text = _dsl("doubao-image-video-pay.yml")
    assert "http://14.103.204.132:8002/sse" in text
    text = text.replace("http://14.103.204.132:8002/sse", sse_url)
    mcp = AgentMcpServers(LOOPBACK)
    model = CallThenAnswer("text_to_image", {"prompt": "a cat"})
    try:
        events = await _run(
            text,
            model,
            {"tools": ToolRuntimeService(ToolRegistry(builtin_providers(SETTINGS))), "mcp": mcp},
            prompt="a cat",
            type="文生图像",
        )
    finally:
        await mcp.aclose()
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == "succeeded", final.error
    answer = "".join(e.text for e in events if isinstance(e, TextChunk))
    assert "Here you go: ![a cat](https://images.example/cat.png)" in answer
    # The DSL's own tools (a plugin not installed here) and the MCP server's.
    assert model.offered[0][:2] == ["mcp_list_tools", "mcp_call_tool"]
    assert "text_to_image" in model.offered[0]
    agent = next(e for e in events if isinstance(e, NodeFinished) and e.node_type == "agent")
    assert "text_to_image" in agent.process_data["tools"]
    call = [e for e in events if isinstance(e, AgentLog) and e.label == "CALL text_to_image"][-1]
    assert call.metadata["provider"] == "MCP Client" and call.status == "success"


async def test_mcp_servers_from_a_dsl_pass_the_ssrf_guard(servers: tuple[str, str]) -> None:
    """A DSL cannot point an agent at a loopback or private server the operator did not
    allow."""
    _, sse_url = servers
    text = _dsl("doubao-image-video-pay.yml")
    text = text.replace("http://14.103.204.132:8002/sse", sse_url)
    mcp = AgentMcpServers("")  # no allow-list: loopback refused
    try:
        events = await _run(
            text,
            CallThenAnswer("text_to_image", {"prompt": "x"}),
            {"tools": ToolRuntimeService(ToolRegistry(builtin_providers(SETTINGS))), "mcp": mcp},
            prompt="x",
            type="文生图像",
        )
    finally:
        await mcp.aclose()
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == "failed"
    assert "failed to list its tools" in (final.error or "")
