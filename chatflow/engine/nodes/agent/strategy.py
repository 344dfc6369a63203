"""What the agent strategies share: their inputs, their result, and one model turn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatflow.engine.files import File
from chatflow.engine.nodes._model_call import Completion, stream_completion
from chatflow.engine.nodes.agent.tools import AgentTool
from chatflow.engine.nodes.base import NodeContext, StreamChunk
from chatflow.engine.nodes.llm.config import ModelConfig
from chatflow.providers.base import ChatMessage, ToolSpec, Usage


@dataclass(frozen=True, slots=True)
class Params:
    """A strategy's parameters, resolved from the node's `agent_parameters`."""

    model: ModelConfig
    instruction: str
    query: str
    tools: Sequence[AgentTool]
    maximum_iterations: int
    history: Sequence[ChatMessage] = ()  # memory: user/assistant pairs, oldest first
    # hjlarry's mcp_agent: no tools on the last round, tool inputs logged as a mapping.
    mcp_flavour: bool = False

    def history_groups(self, offset: int) -> list[range]:
        """The memory pairs as droppable index ranges, after `offset` leading messages."""
        return [range(offset + i, offset + min(i + 2, len(self.history))) for i in
                range(0, len(self.history), 2)]  # fmt: skip


@dataclass(slots=True)
class Result:
    """The end of a strategy's run: what the node outputs."""

    text: str = ""
    usage: Usage = field(default_factory=Usage)
    files: list[File] = field(default_factory=list)
    json: list[Any] = field(default_factory=list)

    def add_usage(self, usage: Usage) -> None:
        self.usage = self.usage.plus(usage)

    def emit(self, ctx: NodeContext, text: str) -> StreamChunk:
        """Text of the final answer: kept for `text` and streamed to the answer."""
        self.text += text
        return StreamChunk((ctx.node_id, "text"), text)


async def model_turn(
    ctx: NodeContext,
    params: Params,
    messages: Sequence[ChatMessage],
    tools: Sequence[ToolSpec],
    *,
    droppable: Sequence[range] = (),
    stop: Sequence[str] = (),
) -> AsyncIterator[str | Completion]:
    """One model call of a round: text deltas, then the `Completion`."""
    model = params.model
    if stop:
        words = list(model.completion_params.get("stop") or []) + list(stop)
        model = model.model_copy(
            update={"completion_params": {**model.completion_params, "stop": words}}
        )
    async for item in stream_completion(ctx, model, messages, tools, droppable=droppable):
        yield item
