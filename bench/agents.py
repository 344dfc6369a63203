"""Agents: what the agent loop costs per round, and what constrained decoding costs.

1. Agent loop overhead. An agent node (function calling) runs rounds of: a scripted
   model turn that calls the built-in `time` tool (the real tool, through the real tool
   runtime), then the tool, until the last round answers. The model waits `MODEL_MS` per
   turn (a stand-in for a remote model). Per run we time the whole node and, inside it,
   every model turn and tool call; the loop's own cost per round is (node time - model
   time - tool time) / rounds, compared with the model and tool time a round waits on.
   A second row does the same with an instant model (the loop's cost next to the tool's
   own time alone).
2. Constrained decoding on the embedded model (SmolLM2-135M, llama.cpp): tokens/s while
   output is constrained by a JSON schema (llguidance grammar: the path tool calls and
   structured output take) against unconstrained generation, same prompt, same sampling
   (seed 42, `MAX_TOKENS` tokens), alternating runs; rates exclude the first token.

Usage: python -m bench.agents [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from bench._stats import Row, Section, Summary
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import agent
from chatflow.engine.nodes.base import EngineServices, NodeContext, ToolCaller
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import ChatMessage, LLMChunk, LLMRequest, ToolCall, Usage
from chatflow.providers.fake import FakeRegistry
from chatflow.settings import Settings
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService

ROUNDS = 5  # tool rounds per run, then one answering round
MODEL_MS = 20.0
MAX_TOKENS = 48


class Waits:
    """Seconds spent inside the model and the tools during one run."""

    def __init__(self) -> None:
        self.model = 0.0
        self.tool = 0.0


class ScriptedModel:
    """Calls the time tool for ROUNDS turns, then answers; waits `delay` per turn."""

    model = "scripted"

    def __init__(self, waits: Waits, delay: float) -> None:
        self.waits, self.delay = waits, delay

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        started = time.perf_counter()
        if self.delay:
            await asyncio.sleep(self.delay)
        done = sum(1 for m in request.messages if m.role == "tool")
        if done < ROUNDS:
            arguments = json.dumps({"timezone": "UTC"})
            yield LLMChunk(tool_calls=(ToolCall(f"c{done}", "current_time", arguments),))
        else:
            yield LLMChunk(text="It is late.")
        self.waits.model += time.perf_counter() - started
        yield LLMChunk(usage=Usage(prompt_tokens=10, completion_tokens=2), finish_reason="stop")


class TimedTools:
    """The real tool runtime, timed."""

    def __init__(self, runtime: ToolRuntimeService, waits: Waits) -> None:
        self.runtime, self.waits = runtime, waits

    async def describe(self, provider: str, tool: str) -> Any:
        return await self.runtime.describe(provider, tool)

    async def invoke(
        self,
        provider: str,
        tool: str,
        parameters: Mapping[str, Any],
        *,
        caller: ToolCaller | None = None,
    ) -> AsyncIterator[Any]:
        started = time.perf_counter()
        messages = [m async for m in self.runtime.invoke(provider, tool, parameters, caller=caller)]
        self.waits.tool += time.perf_counter() - started
        for message in messages:
            yield message


NODE = {
    "type": "agent",
    "agent_strategy_provider_name": "langgenius/agent/agent",
    "agent_strategy_name": "function_calling",
    "agent_parameters": {
        "model": {"type": "constant", "value": {"provider": "x", "model": "m", "mode": "chat"}},
        "query": {"type": "constant", "value": "What time is it?"},
        "maximum_iterations": {"type": "constant", "value": ROUNDS + 1},
        "tools": {
            "type": "constant",
            "value": [{"enabled": True, "provider_name": "time", "tool_name": "current_time",
                       "parameters": {"timezone": {"auto": 1, "value": None}}}],
        },
    },
}  # fmt: skip


async def agent_run(runtime: ToolRuntimeService, delay: float) -> tuple[float, float]:
    """(loop seconds per round, waited seconds per round) of one agent node run."""
    waits = Waits()
    services = EngineServices(
        models=FakeRegistry(ScriptedModel(waits, delay)),  # type: ignore[arg-type]
        limits=EngineLimits(),
        tools=TimedTools(runtime, waits),
    )
    ctx = NodeContext("agent", VariablePool(system={"query": "q"}), services)
    config = agent.Config.model_validate(NODE)
    started = time.perf_counter()
    async for _ in agent.run(ctx, config):
        pass
    total = time.perf_counter() - started
    rounds = ROUNDS + 1
    waited = waits.model + waits.tool
    return (total - waited) / rounds, waited / rounds


async def direct_round(runtime: ToolRuntimeService) -> float:
    """Seconds per round of the same work without the agent: the instant model's turn
    and the tool call, made one after the other in a plain loop."""
    model = ScriptedModel(Waits(), 0.0)
    request = LLMRequest(messages=[ChatMessage("user", "q")])
    started = time.perf_counter()
    for _ in range(ROUNDS):
        async for _chunk in model.stream(request):
            pass
        async for _message in runtime.invoke("time", "current_time", {"timezone": "UTC"}):
            pass
    return (time.perf_counter() - started) / ROUNDS


async def loop_rows(runs: int) -> list[Row]:
    runtime = ToolRuntimeService(build_registry(Settings()), settings=Settings())
    for _ in range(3):  # warm-up
        await agent_run(runtime, 0.0)
        await direct_round(runtime)
    loop, waited = [], []
    for _ in range(runs):
        own, wait = await agent_run(runtime, MODEL_MS / 1000)
        loop.append(own * 1e6)
        waited.append(wait * 1e6)
    rows = [
        Row(
            f"agent loop per round ({MODEL_MS:.0f} ms model)",
            "µs",
            Summary.of(loop).p50,
            Summary.of(waited).p50,
            "model + tool time per round",
            target="<= 0.05x what it waits on",
            met=Summary.of(loop).p50 <= 0.05 * Summary.of(waited).p50,
        )
    ]
    whole, direct = [], []
    for _ in range(runs):  # alternating
        own, wait = await agent_run(runtime, 0.0)
        whole.append((own + wait) * 1e6)
        direct.append(await direct_round(runtime) * 1e6)
    ours, base = Summary.of(whole).p50, Summary.of(direct).p50
    rows.append(
        Row(
            "agent round, instant model",
            "µs",
            ours,
            base,
            "model turn + tool call, no agent",
            target="<= 10x",
            met=ours <= 10 * base,
        )
    )
    return rows


def _rate(llm: Any, request: LLMRequest) -> float:
    """Tokens/s after the first streamed token of one request."""

    async def run() -> float:
        arrivals: list[float] = []
        usage: Usage | None = None
        started = time.perf_counter()
        async for chunk in llm.stream(request):
            if chunk.text:
                arrivals.append(time.perf_counter() - started)
            if chunk.usage is not None:
                usage = chunk.usage
        tokens = usage.completion_tokens if usage else len(arrivals)
        return (tokens - 1) / (arrivals[-1] - arrivals[0])

    return asyncio.run(run())


def decoder_row(runs: int) -> Row:
    from chatflow.providers.embedded import EmbeddedLLM

    llm = EmbeddedLLM(context_size=2048, parallel=1)
    llm.load()
    messages = [ChatMessage("user", "List many fruits.")]
    params = {"temperature": 0.7, "seed": 42, "max_tokens": MAX_TOKENS, "ignore_eos": True}
    schema = {
        "type": "object",
        "properties": {"fruits": {"type": "array", "items": {"type": "string"}, "minItems": 64}},
        "required": ["fruits"],
    }
    free = LLMRequest(messages=messages, params=params)
    bound = LLMRequest(messages=messages, params=params, json_schema=schema)
    _rate(llm, free), _rate(llm, bound)  # warm-up
    free_rates, bound_rates = [], []
    for _ in range(runs):  # alternating, so a slow spell hits both
        free_rates.append(_rate(llm, free))
        bound_rates.append(_rate(llm, bound))
    ours, base = Summary.of(bound_rates).p50, Summary.of(free_rates).p50
    return Row(
        "constrained decoding (JSON schema)",
        "tok/s",
        ours,
        base,
        "unconstrained",
        target=">= 0.5x unconstrained",
        met=ours >= 0.5 * base,
    )


def measure(*, quick: bool = False) -> Section:
    section = Section("agents", "Agents: loop overhead and constrained decoding")
    section.rows += asyncio.run(loop_rows(20 if quick else 100))
    try:
        section.rows.append(decoder_row(2 if quick else 6))
    except Exception as exc:  # no embedded model here: the loop figures still count
        section.notes.append(f"constrained decoding not measured: {exc}")
    section.notes.append(
        f"Agent: {ROUNDS} rounds calling the built-in time tool (real runtime) + 1 answering "
        f"round; model turns wait {MODEL_MS:.0f} ms (or nothing). Decoding: SmolLM2-135M, "
        f"{MAX_TOKENS} tokens, seed 42, EOS ignored, rates after the first token."
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description="Agents: loop overhead, constrained decoding.")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from bench.engine import print_section

    print_section(measure(quick=args.quick))


if __name__ == "__main__":
    main()
