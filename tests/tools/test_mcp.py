"""MCP tools against real FastMCP servers over stdio, streamable HTTP and HTTP+SSE."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatflow.net.ssrf import SSRFPolicy
from chatflow.tools.base import (
    BlobMessage,
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolError,
    ToolMessage,
    ToolNotConfigured,
    VariableMessage,
)
from chatflow.tools.mcp import McpProvider, McpServer
from tests.tools import mcp_demo
from tests.tools.loopback import serve

DEMO = str(Path(mcp_demo.__file__).resolve())
LOOPBACK = SSRFPolicy.parse("127.0.0.1")


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with serve(mcp_demo.app("streamable_http")) as base:
        yield f"{base}/mcp"


@pytest.fixture(scope="module")
def sse_url() -> Iterator[str]:
    with serve(mcp_demo.app("sse")) as base:
        yield f"{base}/sse"


def stdio_server(**env: str) -> McpServer:
    return McpServer(transport="stdio", command=(sys.executable, DEMO), env=env)


@pytest.fixture(params=["stdio", "streamable_http", "sse"])
async def provider(
    request: pytest.FixtureRequest, http_url: str, sse_url: str
) -> AsyncIterator[McpProvider]:
    if request.param == "stdio":
        server = stdio_server()
    else:
        server = McpServer.http(http_url if request.param == "streamable_http" else sse_url)
        assert server.transport == request.param
    provider = McpProvider("demo", server, policy=LOOPBACK)
    yield provider
    await provider.aclose()


async def call(provider: McpProvider, tool_name: str, **params: Any) -> list[ToolMessage]:
    tool = next(t for t in await provider.tools() if t.descriptor.name == tool_name)
    return [m async for m in tool.invoke(params, ToolContext())]


async def test_lists_tools_with_their_schemas(provider: McpProvider) -> None:
    tools = {t.descriptor.name: t.descriptor for t in await provider.tools()}
    assert {"echo", "add", "pet", "picture", "broken", "env"} <= set(tools)
    schema = tools["add"].json_schema()
    assert schema["required"] == ["a", "b"]
    assert schema["properties"]["a"]["type"] == "integer"
    assert [p.name for p in tools["pet"].parameters] == ["name", "age"]
    assert tools["echo"].description == "Return the text unchanged."


async def test_calls_return_each_kind_of_result(provider: McpProvider) -> None:
    assert TextMessage("hi there") in await call(provider, "echo", text="hi there")
    # Text parameters (a tool node's `mixed` values) are converted to the schema's types.
    added = await call(provider, "add", a="2", b="3")
    assert TextMessage("5") in added
    assert VariableMessage("result", 5) in added
    pet = await call(provider, "pet", name="Rex", age="")
    assert JsonMessage({"name": "Rex", "age": 1}) in pet
    (image,) = [m for m in await call(provider, "picture") if isinstance(m, BlobMessage)]
    assert (image.data, image.mime_type) == (mcp_demo.PNG, "image/png")


async def test_tool_error_fails_the_call(provider: McpProvider) -> None:
    with pytest.raises(ToolError, match="broken on purpose: why"):
        await call(provider, "broken", reason="why")


async def test_one_session_serves_many_calls(provider: McpProvider) -> None:
    import asyncio

    results = await asyncio.gather(*(call(provider, "add", a=i, b=1) for i in range(8)))
    assert [r[0] for r in results] == [TextMessage(str(i + 1)) for i in range(8)]


async def test_stdio_env_and_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_TOKEN", "tok-1")
    provider = McpProvider("demo", stdio_server(DEMO_SECRET="${DEMO_TOKEN}"))
    try:
        assert TextMessage("tok-1") in await call(provider, "env", name="DEMO_SECRET")
        # The server sees only the env it was given plus the SDK's safe defaults.
        assert TextMessage("<unset>") in await call(provider, "env", name="DEMO_TOKEN")
    finally:
        await provider.aclose()
    monkeypatch.delenv("DEMO_TOKEN")
    unset = McpProvider("demo", stdio_server(DEMO_SECRET="${DEMO_TOKEN}"))
    assert "DEMO_TOKEN" in (unset.missing_configuration() or "")
    with pytest.raises(ToolNotConfigured, match="DEMO_TOKEN"):
        await unset.refresh()


async def test_cached_tool_list_needs_no_connection_and_refreshes(http_url: str) -> None:
    listed = [{"name": "echo", "inputSchema": {"type": "object", "properties": {}}}]
    provider = McpProvider("demo", McpServer.http(http_url), policy=LOOPBACK, tools=listed)
    try:
        assert [t.descriptor.name for t in await provider.tools()] == ["echo"]
        # A tool the cache lacks makes the provider list again before calling.
        assert TextMessage("7") in await call_by_name(provider, "add", a=3, b=4)
        assert "add" in {t["name"] for t in provider.listed}
    finally:
        await provider.aclose()


async def call_by_name(provider: McpProvider, name: str, **params: Any) -> list[ToolMessage]:
    from chatflow.tools.mcp.results import result_messages

    return result_messages(name, await provider.call_tool(name, params))


async def test_reconnects_after_the_server_process_dies() -> None:
    provider = McpProvider("demo", stdio_server())
    try:
        assert TextMessage("1") in await call(provider, "echo", text="1")
        with pytest.raises(ToolError, match="crash"):
            await call(provider, "crash")
        assert TextMessage("2") in await call(provider, "echo", text="2")
    finally:
        await provider.aclose()


async def test_http_transports_go_through_the_ssrf_guard(http_url: str, sse_url: str) -> None:
    for url in (http_url, sse_url):
        provider = McpProvider("demo", McpServer.http(url), policy=SSRFPolicy())
        with pytest.raises(ToolError, match="not allowed"):
            await provider.refresh()
        await provider.aclose()
