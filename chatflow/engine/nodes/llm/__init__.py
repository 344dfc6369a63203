"""The LLM node (DSL type `llm`): build the prompt, stream the model, report usage.

When the context holds knowledge-retrieval results, a `RetrieverResources` event with
their citations comes first, as Dify's `NodeRunRetrieverResourceEvent` does.
Text deltas stream as `StreamChunk((node_id, "text"), delta)`; the result carries Dify's
outputs (`text`, `reasoning_content`, `usage`, `finish_reason`, and `structured_output`
when enabled) and process data (`model_mode`, `prompts`, `usage`, `finish_reason`,
`model_provider`, `model_name`). Cancelling the task that consumes this node closes the
model stream at once, so the backend stops generating.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

from chatflow.engine.events import RetrieverResources
from chatflow.engine.nodes import _context
from chatflow.engine.nodes.base import NodeContext, NodeEvent, NodeResult, StreamChunk
from chatflow.engine.nodes.llm import prompts, structured
from chatflow.engine.nodes.llm.config import Config
from chatflow.engine.nodes.llm.reasoning import ThinkFilter, split_reasoning
from chatflow.errors import NodeError
from chatflow.providers.base import ChatMessage, LLMRequest, Usage

__all__ = ["TYPE", "Config", "run"]

TYPE = "llm"
_CHAT_APP_MODES = frozenset({"advanced-chat", "chat", "agent-chat"})


_T = TypeVar("_T")


@contextlib.asynccontextmanager
async def _closing(stream: AsyncIterator[_T]) -> AsyncIterator[AsyncIterator[_T]]:
    """`contextlib.aclosing` for the `AsyncIterator` the LLM protocol promises."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _moved(
    ranges: list[range], before: Sequence[ChatMessage], after: Sequence[ChatMessage]
) -> list[range]:
    """`ranges` of `before` as index ranges of `after` (the structured-output prompt
    rebuilds the message list around the same message objects)."""
    where = {id(message): index for index, message in enumerate(after)}
    moved: list[range] = []
    for group in ranges:
        indexes = [where[id(before[i])] for i in group if id(before[i]) in where]
        if indexes:
            moved.append(range(min(indexes), max(indexes) + 1))
    return moved


def _error(ctx: NodeContext, message: str, error_type: str) -> NodeError:
    return NodeError(message, node_id=ctx.node_id, error_type=error_type)


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    """Prompt -> stream -> result, matching Dify's LLM node."""
    try:
        prompt = await prompts.build(
            config,
            ctx.pool,
            ctx.services,
            ctx.history,
            # Dify has conversation memory only in chat apps, never in workflows.
            has_memory=ctx.app_mode in _CHAT_APP_MODES,
        )
    except (prompts.PromptError, ValueError) as exc:
        raise _error(ctx, str(exc), type(exc).__name__) from exc
    if prompt.context is not None:
        yield RetrieverResources(
            execution_id=ctx.execution_id,
            node_id=ctx.node_id,
            resources=prompt.retriever_resources,
            context=prompt.context,
            scope=ctx.scope,
        )
    model = config.model
    inputs: dict[str, Any] = {
        **prompt.inputs,
        "model_provider": model.provider,
        "model_name": model.name,
    }
    params, stop = prompts.resolve_params(model.completion_params, ctx.pool)
    messages = prompt.messages
    response_format = params.pop("response_format", None)
    schema: dict[str, Any] | None = None
    if config.structured_output_enabled:
        try:
            schema = structured.schema_of(config.structured_output)
        except structured.StructuredOutputError as exc:
            raise _error(ctx, str(exc), "LLMNodeError") from exc
        messages = structured.with_schema_prompt(messages, schema)
        response_format = response_format or "json_object"
    llm = ctx.services.models.llm(model.provider, model.name)
    # Memory turns go oldest first until the prompt and max_tokens fit the context; a
    # backend that does not know its context gets the prompt as built (no fitting call).
    if _context.window_of(llm) is not None:
        droppable = (
            prompt.memory
            if messages is prompt.messages or not prompt.memory
            else _moved(prompt.memory, prompt.messages, messages)
        )
        messages, params = await _context.fit(
            llm, messages, params, droppable=droppable, node_id=ctx.node_id
        )
    request = LLMRequest(
        messages=messages,
        params=params,
        stop=stop,
        response_format=str(response_format) if response_format else None,
        # Backends constrain decoding to the schema (llama.cpp grammars, json_schema).
        json_schema=schema,
    )

    selector = (ctx.node_id, "text")
    think = ThinkFilter() if config.reasoning_format == "separated" else None
    parts: list[str] = []
    usage: Usage | None = None
    finish_reason: str | None = None
    started = time.perf_counter()
    # When this node is cancelled or closed mid-stream, the model stream is closed right
    # away instead of being left to the garbage collector.
    async with _closing(llm.stream(request)) as stream:
        async for chunk in stream:
            if chunk.text:
                parts.append(chunk.text)
                shown = chunk.text if think is None else think.feed(chunk.text)
                if shown:
                    yield StreamChunk(selector, shown)
            if chunk.usage is not None and (usage is None or usage.prompt_tokens == 0):
                usage = chunk.usage
            if finish_reason is None and chunk.finish_reason:
                finish_reason = chunk.finish_reason
    if think is not None and (tail := think.finish()):
        yield StreamChunk(selector, tail)

    full_text = "".join(parts)
    text, reasoning = split_reasoning(full_text) if think is not None else (full_text, "")
    usage = dataclasses.replace(usage or Usage(), latency=round(time.perf_counter() - started, 3))
    outputs: dict[str, Any] = {
        "text": text,
        "reasoning_content": reasoning,
        "usage": usage.to_dict(),
        "finish_reason": finish_reason,
    }
    if schema is not None:
        try:
            outputs["structured_output"] = structured.parse(full_text)
        except structured.StructuredOutputError as exc:
            raise _error(ctx, str(exc), "LLMNodeError") from exc
    yield NodeResult(
        outputs=outputs,
        inputs=inputs,
        process_data={
            "model_mode": model.mode,
            "prompts": prompts.serialize(messages, model.mode),
            "usage": usage.to_dict(),
            "finish_reason": finish_reason,
            "model_provider": model.provider,
            "model_name": model.name,
        },
        usage=usage,
    )
