"""The `function_calling` strategy (langgenius/agent, and hjlarry's mcp_agent).

Rounds of: the model (offered every tool) -> its tool calls, run concurrently when it
asks for several -> their results as `tool` messages -> the next round, until a round
calls no tool or `maximum_iterations` rounds ran. As in Dify's plugin, text streams as
the model writes it, a newline follows each round's tool calls, and on the last round
(when more than one is allowed) calls are not run: each gets "Maximum iteration limit
(N) reached" as its result and the loop ends. The mcp_agent flavour instead offers no
tools on the last round, so the model has to answer.

Earlier rounds are the first to go when the prompt outgrows the model's context (after
the remembered turns), never the latest one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from chatflow.engine.nodes._model_call import Completion
from chatflow.engine.nodes.agent import tools as agent_tools
from chatflow.engine.nodes.agent.logs import AgentLogs, usage_metadata
from chatflow.engine.nodes.agent.strategy import Params, Result, model_turn
from chatflow.engine.nodes.base import NodeContext, NodeEvent
from chatflow.providers.base import ChatMessage, ToolCall


def limit_message(limit: int, tool: str) -> str:
    return (
        f"Maximum iteration limit ({limit}) reached. Cannot call tool '{tool}'. "
        "Please consider increasing the iteration limit."
    )


async def run(ctx: NodeContext, params: Params) -> AsyncIterator[NodeEvent | Result]:
    logs = AgentLogs(ctx)
    model = params.model
    tools = {tool.name: tool for tool in params.tools}
    specs = [tool.spec for tool in params.tools]
    base: list[ChatMessage] = []
    if params.instruction:
        base.append(ChatMessage("system", params.instruction))
    history = params.history_groups(len(base))
    base += [*params.history, ChatMessage("user", params.query)]
    thoughts: list[ChatMessage] = []
    rounds: list[range] = []  # each round's messages in `thoughts`
    result = Result()
    limit = max(params.maximum_iterations, 1)
    step, calling = 1, True
    while calling and step <= limit:
        calling = False
        round_log = logs.start(f"ROUND {step}")
        yield round_log
        last = step == limit
        offered = [] if params.mcp_flavour and last else specs
        thought_log = logs.start(f"{model.name} Thought", round_log, provider=model.provider)
        yield thought_log
        earlier = [range(r.start + len(base), r.stop + len(base)) for r in rounds[:-1]]
        reply: Completion | None = None
        async for item in model_turn(
            ctx, params, base + thoughts, offered, droppable=history + earlier
        ):
            if isinstance(item, str):
                yield result.emit(ctx, item)
            else:
                reply = item
        assert reply is not None
        result.add_usage(reply.usage)
        calls = reply.tool_calls
        yield logs.finish(
            thought_log,
            {
                "output": reply.text,
                "tool_name": ";".join(call.name for call in calls),
                "tool_input": _tool_input(calls, params.mcp_flavour),
            },
            provider=model.provider,
            **usage_metadata(reply.usage),
        )
        start = len(thoughts)
        if calls or reply.text.strip():
            thoughts.append(ChatMessage("assistant", reply.text, tool_calls=calls))
        responses: list[dict[str, Any]] = []
        if calls and last and limit > 1 and not params.mcp_flavour:
            for call in calls:
                tool = tools.get(call.name)
                call_log = logs.start(f"CALL {call.name}", round_log, provider=_provider(tool))
                yield call_log
                text = limit_message(limit, call.name)
                response = {"tool_call_id": call.id, "tool_call_name": call.name}
                response["tool_response"] = text
                responses.append(response)
                yield logs.finish(call_log, {"output": response}, provider=_provider(tool))
                thoughts.append(ChatMessage("tool", text, name=call.name, tool_call_id=call.id))
        elif calls:
            calling = True
            async for event in _call_all(ctx, logs, round_log, tools, calls, responses, result):
                yield event
            for call, response in zip(calls, responses, strict=True):
                thoughts.append(
                    ChatMessage(
                        "tool",
                        str(response["tool_response"]),
                        name=call.name,
                        tool_call_id=call.id,
                    )
                )
        rounds.append(range(start, len(thoughts)))
        if calls:
            yield result.emit(ctx, "\n")
        yield logs.finish(
            round_log,
            {"output": {"llm_response": reply.text, "tool_responses": responses}},
            **usage_metadata(reply.usage),
        )
        if responses and limit == 1:
            for response in responses:
                yield result.emit(ctx, str(response["tool_response"]))
        step += 1
    yield result


async def _call_all(
    ctx: NodeContext,
    logs: AgentLogs,
    round_log: Any,
    tools: dict[str, agent_tools.AgentTool],
    calls: tuple[ToolCall, ...],
    responses: list[dict[str, Any]],
    result: Result,
) -> AsyncIterator[NodeEvent]:
    """Run the round's calls concurrently: every CALL log starts first, each finishes
    as its tool returns; `responses` are filled in call order."""
    if len(calls) == 1:  # nothing to run alongside: no task to spawn
        call, tool = calls[0], tools.get(calls[0].name)
        call_log = logs.start(f"CALL {call.name}", round_log, provider=_provider(tool))
        yield call_log
        outcome = await agent_tools.invoke(ctx, tool, call)
        yield logs.finish(
            call_log, {"output": outcome.response}, error=outcome.error, provider=_provider(tool)
        )
        responses.append(outcome.response)
        result.files += outcome.files
        result.json += outcome.json
        return
    call_logs = []
    for call in calls:
        tool = tools.get(call.name)
        call_logs.append(logs.start(f"CALL {call.name}", round_log, provider=_provider(tool)))
        yield call_logs[-1]

    async def one(index: int) -> tuple[int, agent_tools.Outcome]:
        call = calls[index]
        return index, await agent_tools.invoke(ctx, tools.get(call.name), call)

    tasks = [asyncio.ensure_future(one(index)) for index in range(len(calls))]
    outcomes: dict[int, agent_tools.Outcome] = {}
    try:
        for done in asyncio.as_completed(tasks):
            index, outcome = await done
            outcomes[index] = outcome
            yield logs.finish(
                call_logs[index],
                {"output": outcome.response},
                error=outcome.error,
                provider=_provider(tools.get(calls[index].name)),
            )
    finally:
        for task in tasks:  # the node was cancelled: stop the tools still running
            task.cancel()
    for index in range(len(calls)):
        outcome = outcomes[index]
        responses.append(outcome.response)
        result.files += outcome.files
        result.json += outcome.json


def _provider(tool: agent_tools.AgentTool | None) -> str:
    return tool.provider if tool is not None else ""


def _tool_input(calls: tuple[ToolCall, ...], as_mapping: bool) -> Any:
    if as_mapping:
        return {call.name: agent_tools.arguments(call) for call in calls}
    return [{"name": call.name, "args": agent_tools.arguments(call)} for call in calls]
