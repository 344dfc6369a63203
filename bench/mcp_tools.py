"""MCP tool call through the tool node against the raw `mcp` client.

Both call `add` on the same FastMCP server (`bench/mcp_server.py`, its own process over
stdio), one call after another. The baseline is the SDK at its fastest: one open
`ClientSession`, `call_tool` in a loop. Ours is the engine's tool node (parameter
binding, registry resolution, parameter preparation, the provider's shared session,
result -> messages -> node outputs), with the provider as `chatflow tools add-mcp`
stores it. The ratio is the whole cost of going through the node.

    python -m bench --only mcp
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from bench._stats import Row, Section, Summary
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import tool
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.providers.fake import FakeRegistry
from chatflow.settings import Settings
from chatflow.tools import remote
from chatflow.tools.catalog import build_registry
from chatflow.tools.mcp.connect import McpServer
from chatflow.tools.runtime import ToolRuntimeService

ROOT = str(Path(__file__).resolve().parent.parent)
# Run as a module: a script in bench/ would have bench/http.py shadow the stdlib's http.
COMMAND = (sys.executable, "-m", "bench.mcp_server")
ENV = {"PYTHONPATH": ROOT}
NODE = {
    "type": "tool", "title": "add", "provider_type": "mcp", "provider_id": "bench",
    "provider_name": "bench", "tool_name": "add",
    "tool_parameters": {
        "a": {"type": "mixed", "value": "{{#start.a#}}"}, "b": {"type": "constant", "value": 2},
    },
}  # fmt: skip


async def interleaved(runs: int, warmup: int) -> tuple[list[float], list[float]]:
    """(raw, node) samples, one of each per round so both see the same machine load."""
    params = StdioServerParameters(command=COMMAND[0], args=list(COMMAND[1:]), env=ENV)
    raw: list[float] = []
    node: list[float] = []
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir))
        server = McpServer(transport="stdio", command=COMMAND, env=ENV)
        remote.put(settings, "mcp", "bench", remote.mcp_entry(server, []))
        registry = build_registry(settings)
        services = EngineServices(
            models=FakeRegistry(),
            limits=EngineLimits(),
            tools=ToolRuntimeService(registry, settings=settings),
        )
        config = tool.Config.model_validate(NODE)
        try:
            async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                for index in range(warmup + runs):
                    started = time.perf_counter()
                    result = await s.call_tool("add", {"a": index, "b": 2})
                    raw_us = (time.perf_counter() - started) * 1e6
                    assert result.structuredContent == {"result": index + 2}, result

                    pool = VariablePool()
                    pool.set("start", "a", index)
                    started = time.perf_counter()
                    events = [e async for e in tool.run(NodeContext("add", pool, services), config)]
                    node_us = (time.perf_counter() - started) * 1e6
                    done = events[-1]
                    assert isinstance(done, NodeResult) and done.outputs["result"] == index + 2
                    if index >= warmup:
                        raw.append(raw_us)
                        node.append(node_us)
        finally:
            await remote.close(registry.providers)
    return raw, node


async def measure(*, runs: int = 300, warmup: int = 20) -> Section:
    section = Section("mcp", "MCP tool call: tool node vs raw mcp client (stdio FastMCP server)")
    raw, ours = await interleaved(runs, warmup)
    raw_s, ours_s = Summary.of(raw), Summary.of(ours)
    section.rows.append(
        Row("MCP call p50, through the tool node", "µs", ours_s.p50, raw_s.p50,
            "raw mcp ClientSession.call_tool", target="<= 1.5x", met=ours_s.p50 <= 1.5 * raw_s.p50)
    )  # fmt: skip
    section.rows.append(
        Row("MCP call p95, through the tool node", "µs", ours_s.p95, raw_s.p95,
            "raw mcp ClientSession.call_tool")
    )  # fmt: skip
    section.notes.append(
        f"{runs} rounds after {warmup} warm-up rounds, each one raw call then one node call; "
        "one server process per side, one session each (the node's provider keeps its "
        "session open between calls)."
    )
    return section


def main() -> None:
    from bench.engine import print_section

    print_section(asyncio.run(measure()))


if __name__ == "__main__":
    main()
