"""Built-in tool overhead: a tool called through the tool node (binding, registry
resolution, parameter checks, message conversion) against calling the same tool
function directly, both in-process.

    python -m bench --only tools
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bench._stats import Row, Section, Summary
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import tool
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.providers.fake import FakeRegistry
from chatflow.settings import Settings
from chatflow.tools.base import ToolContext
from chatflow.tools.builtin import maths
from chatflow.tools.builtin import time as time_tool
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService

CASES: dict[str, tuple[str, str, dict[str, Any], Callable[..., Any]]] = {
    "time.current_time": (
        "langgenius/time/time",
        "current_time",
        {"timezone": "Asia/Shanghai", "format": "%Y-%m-%d %H:%M:%S"},
        time_tool.current_time,
    ),
    "maths.eval_expression": (
        "maths",
        "eval_expression",
        {"expression": "(2 + 3) * sqrt(16) / 2"},
        maths.eval_expression,
    ),
}


async def _samples(call: Callable[[], Awaitable[Any]], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await call()
    out: list[float] = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        await call()
        out.append((time.perf_counter_ns() - started) / 1000)
    return out


def _node_config(provider: str, name: str, params: Mapping[str, Any]) -> tool.Config:
    return tool.Config.model_validate(
        {
            "type": "tool",
            "provider_id": provider,
            "provider_type": "builtin",
            "tool_name": name,
            "tool_parameters": {k: {"type": "mixed", "value": v} for k, v in params.items()},
        }
    )


async def measure(*, runs: int = 2000, warmup: int = 50) -> Section:
    section = Section("tools", "Built-in tool node overhead (in-process)")
    with TemporaryDirectory() as data:
        registry = build_registry(Settings(data_dir=Path(data)))
        runtime = ToolRuntimeService(registry)
        services = EngineServices(models=FakeRegistry(), limits=EngineLimits(), tools=runtime)
        for label, (provider, name, params, function) in CASES.items():
            ctx = ToolContext()

            async def direct(
                function: Any = function, params: Any = params, ctx: ToolContext = ctx
            ) -> None:
                [_ async for _ in function(params, ctx)]

            config = _node_config(provider, name, params)

            async def node(config: tool.Config = config) -> None:
                context = NodeContext("bench", VariablePool(system={"app_id": "a"}), services)
                events = [event async for event in tool.run(context, config)]
                assert isinstance(events[-1], NodeResult)

            baseline = Summary.of(await _samples(direct, runs, warmup)).p50
            through = Summary.of(await _samples(node, runs, warmup)).p50
            section.rows.append(
                Row(
                    f"{label} through the tool node p50",
                    "µs",
                    through,
                    baseline,
                    "the tool function called directly",
                )
            )
            section.rows.append(
                Row(
                    f"{label} tool node overhead p50",
                    "µs",
                    through - baseline,
                    baseline,
                    "the tool function called directly",
                )
            )
    section.notes.append(
        f"{runs} calls each after {warmup} warm-up calls; the node path includes binding the "
        "parameters as `mixed` templates, resolving the marketplace id, converting and "
        "checking parameters and turning messages into outputs."
    )
    return section


if __name__ == "__main__":
    from bench.engine import print_section

    print_section(asyncio.run(measure()))
