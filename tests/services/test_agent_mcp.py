"""`AgentMcpServers` against a real MCP server on loopback: the tools a DSL's server
lists, calls whose results reach the engine as text, JSON and stored tool files, one
session per server entry, an unknown tool, and the SSRF guard on the DSL's URLs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chatflow.engine.files import File
from chatflow.services import Services
from chatflow.services.agent_mcp import AgentMcpServers
from chatflow.tools.base import ToolError
from tests.tools import mcp_demo
from tests.tools.loopback import serve


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with serve(mcp_demo.app("streamable_http")) as base:
        yield f"{base}/mcp"


async def _call(mcp: AgentMcpServers, server: dict[str, Any], tool: str, **args: Any) -> list[Any]:
    return [message async for message in mcp.call_tool(server, tool, args)]


async def test_tools_are_listed_and_called(services: Services, mcp_url: str) -> None:
    mcp = AgentMcpServers("127.0.0.1", services.tool_files)
    server = {"url": mcp_url, "name": "demo"}
    try:
        specs = {spec.name: spec for spec in await mcp.list_tools(server)}
        assert {"echo", "add", "pet", "picture"} <= set(specs)
        assert specs["add"].parameters["properties"].keys() == {"a", "b"}
        # Text, then the structured result's fields as variables (Dify's MCP tool).
        assert await _call(mcp, server, "echo", text="hello") == [
            "hello",
            {"variable": "result", "value": "hello"},
        ]
        assert await _call(mcp, server, "pet", name="Rex", age=3) == [
            {"name": "Rex", "age": 3},  # JSON text arrives as JSON
            {"variable": "name", "value": "Rex"},
            {"variable": "age", "value": 3},
        ]
        [picture] = await _call(mcp, server, "picture")
        assert isinstance(picture, File) and picture.transfer_method == "tool_file"
        assert picture.id is not None
        row = await services.tool_files.find(picture.id)
        assert row is not None and row.size == len(mcp_demo.PNG)
        with pytest.raises(LookupError, match="no tool 'nope'"):
            await _call(mcp, server, "nope")
        # The same entry (another dict, same URL/transport/headers) reuses the session.
        added = await _call(mcp, dict(server), "add", a=2, b=3)
        assert added == ["5", {"variable": "result", "value": 5}]
        assert len(mcp._providers) == 1
    finally:
        await mcp.aclose()


async def test_without_file_storage_a_file_result_is_described(mcp_url: str) -> None:
    mcp = AgentMcpServers("127.0.0.1")
    try:
        [described] = await _call(mcp, {"url": mcp_url}, "picture")
        assert described == "(file picture-0.png, not stored: no file storage)"
    finally:
        await mcp.aclose()


async def test_a_dsl_cannot_reach_loopback_unless_allowed(mcp_url: str) -> None:
    mcp = AgentMcpServers("")
    try:
        with pytest.raises(ToolError, match=r"127\.0\.0\.1 are not allowed"):
            await mcp.list_tools({"url": mcp_url})
    finally:
        await mcp.aclose()
