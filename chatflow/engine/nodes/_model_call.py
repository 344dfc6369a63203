"""One non-streaming model call for nodes that prompt a model for a decision
(question-classifier, parameter-extractor, agent): the query, memory text, vision
images and the collected reply. The LLM node's own streaming path lives in `nodes/llm`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from chatflow.engine.files import File
from chatflow.engine.nodes._context import fit, window_of
from chatflow.engine.nodes.base import NodeContext, Turn
from chatflow.engine.nodes.llm.attachments import image_part
from chatflow.engine.nodes.llm.config import MemoryConfig, ModelConfig, VisionConfig
from chatflow.engine.nodes.llm.prompts import resolve_params
from chatflow.engine.template import to_text
from chatflow.engine.variables import MISSING, SYSTEM, VariablePool
from chatflow.providers.base import (
    ChatMessage,
    ImagePart,
    LLMRequest,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)

# Dify's chat apps remember; workflows have no conversation.
CHAT_APP_MODES = frozenset(("advanced-chat", "chat", "agent-chat"))
_MEMORY_MESSAGE_LIMIT = 500
_THINK = re.compile(r"<think[^>]*>[\s\S]*?</think>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: str | None


def lookup(pool: VariablePool, selector: Sequence[str]) -> Any:
    """`pool.get`, also accepting old DSLs' `[start_id, "sys.query"]` spelling."""
    value = pool.get(selector)
    if value is MISSING and len(selector) == 2 and selector[1].startswith("sys."):
        value = pool.get([SYSTEM, selector[1][4:]])
    return value


def query_text(pool: VariablePool, selector: Sequence[str]) -> str:
    value = lookup(pool, selector) if selector else MISSING
    return "" if value is MISSING or value is None else to_text(value)


def memory_text(ctx: NodeContext, memory: MemoryConfig | None) -> str:
    """Dify's `fetch_memory_text`: the window of past turns as `Human:`/`Assistant:` lines."""
    if memory is None or ctx.app_mode not in CHAT_APP_MODES:
        return ""
    turns = _window(ctx.history, memory)
    lines: list[str] = []
    for turn in turns:
        lines.append(f"Human: {turn.query}")
        lines.append(f"Assistant: {turn.answer}")
    return "\n".join(lines)


def _window(history: Sequence[Turn], memory: MemoryConfig) -> list[Turn]:
    answered = [turn for turn in history if turn.answer]
    limit = _MEMORY_MESSAGE_LIMIT
    if memory.window.enabled and memory.window.size and memory.window.size > 0:
        limit = min(memory.window.size, _MEMORY_MESSAGE_LIMIT)  # a window counts turns
    return answered[-limit:]


async def vision_images(ctx: NodeContext, vision: VisionConfig) -> tuple[ImagePart, ...]:
    if not vision.enabled:
        return ()
    value = lookup(ctx.pool, vision.configs.variable_selector)
    files = [value] if isinstance(value, File) else value if isinstance(value, list) else []
    parts = [
        await image_part(file, ctx.services, vision.configs.detail)
        for file in files
        if isinstance(file, File)
    ]
    return tuple(part for part in parts if part is not None)


def with_images(messages: list[ChatMessage], images: tuple[ImagePart, ...]) -> list[ChatMessage]:
    """Vision files ride on the last user message, as in Dify."""
    if not images:
        return messages
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            messages[index] = dataclasses.replace(
                messages[index], images=messages[index].images + images
            )
            break
    return messages


async def stream_completion(
    ctx: NodeContext,
    model: ModelConfig,
    messages: Sequence[ChatMessage],
    tools: Sequence[ToolSpec] = (),
    *,
    tool_choice: ToolChoice = "auto",
    droppable: Sequence[range] = (),
) -> AsyncIterator[str | Completion]:
    """The model's text deltas as they come, then the whole `Completion`.

    The prompt is first fitted into the model's context (`droppable` groups go oldest
    first; see `_context.fit`)."""
    params, stop = resolve_params(model.completion_params, ctx.pool)
    llm = ctx.services.models.llm(model.provider, model.name)
    fitted: Sequence[ChatMessage] = messages
    if window_of(llm) is not None:  # else nothing to fit: no call, no copies
        fitted, params = await fit(
            llm, messages, params, droppable=droppable, tools=tools, node_id=ctx.node_id
        )
    # Copies: callers keep appending to their lists (the agent loop).
    request = LLMRequest(
        messages=tuple(fitted),
        params=params,
        stop=stop,
        tools=tuple(tools),
        tool_choice=tool_choice,
    )
    parts: list[str] = []
    calls: list[ToolCall] = []
    usage: Usage | None = None
    finish_reason: str | None = None
    started = time.perf_counter()
    stream = llm.stream(request)
    try:
        async for chunk in stream:
            if chunk.text:
                parts.append(chunk.text)
                yield chunk.text
            calls.extend(chunk.tool_calls)
            if chunk.usage is not None:
                usage = chunk.usage
            finish_reason = chunk.finish_reason or finish_reason
    finally:
        # Stop the backend at once if this node is cancelled mid-reply.
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    usage = dataclasses.replace(usage or Usage(), latency=round(time.perf_counter() - started, 3))
    yield Completion("".join(parts), tuple(calls), usage, finish_reason)


async def complete(
    ctx: NodeContext,
    model: ModelConfig,
    messages: Sequence[ChatMessage],
    tools: Sequence[ToolSpec] = (),
    *,
    tool_choice: ToolChoice = "auto",
) -> Completion:
    """The whole reply of one model call (for nodes that need a decision, not a stream)."""
    async for item in stream_completion(ctx, model, messages, tools, tool_choice=tool_choice):
        if isinstance(item, Completion):
            return item
    raise AssertionError("stream_completion always ends with a Completion")


def strip_think(text: str) -> str:
    return _THINK.sub("", text) if "<think" in text else text


def serialize_prompts(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [{"role": m.role, "text": m.content, "files": []} for m in messages]


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
