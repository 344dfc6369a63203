"""Fitting a prompt into the model's context, the way Dify does.

Dify sizes a prompt as `context_size - max_tokens` (the answer's room): conversation
memory is cut to what is left after the rest of the prompt (`TokenBufferMemory` drops
the oldest messages first), and a prompt that still does not fit fails with
`completion_request_error`. Here every node that calls a model marks which of its
messages may go (memory turns, an agent's earlier rounds) as droppable index ranges,
oldest first; whole groups go, so a tool call never loses its answer. Prompts far below
the budget are not counted (a byte bound proves they fit): short prompts cost no
tokenization. Backends that do not
know their context size (`ContextWindow`) get the prompt unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from chatflow.errors import NodeError
from chatflow.providers.base import LLM, ChatMessage, ContextWindow, ToolSpec

# The answer's room when the DSL sets no `max_tokens` (Dify's parameter-rule default).
DEFAULT_MAX_TOKENS = 512
# Room for what chat templates and backends add around the text (role markers, a default
# system prompt, the embedded model's tool instructions), for `upper_bound`.
_PER_MESSAGE = 16
_TEMPLATE_SLACK = 512
ERROR_TYPE = "completion_request_error"


@dataclass(frozen=True, slots=True)
class Budget:
    """What a prompt may use: the model's context less the room kept for the answer."""

    context_size: int
    max_tokens: int

    @property
    def prompt_tokens(self) -> int:
        return self.context_size - self.max_tokens


class ContextOverflow(NodeError):
    """The prompt cannot fit even with everything droppable dropped."""

    def __init__(self, prompt_tokens: int, budget: Budget, node_id: str | None = None) -> None:
        super().__init__(
            f"Query or prefix prompt is too long: the prompt needs {prompt_tokens} tokens, but "
            f"the model's context is {budget.context_size} tokens and {budget.max_tokens} of "
            "them are kept for the answer (max_tokens). Reduce the prefix prompt, shrink "
            "max_tokens, or switch to a model with a larger context.",
            node_id=node_id,
            error_type=ERROR_TYPE,
        )
        self.code = ERROR_TYPE
        self.prompt_tokens = prompt_tokens
        self.budget = budget


def upper_bound(messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
    """More tokens than the prompt can have: every token is at least one byte of text,
    plus generous room for a chat template's markers and a backend's tool prompt."""
    size = sum(len(m.content.encode()) + _PER_MESSAGE for m in messages)
    size += sum(len(c.arguments.encode()) + len(c.name) for m in messages for c in m.tool_calls)
    for tool in tools:
        size += 2 * (len(json.dumps(dict(tool.parameters))) + len(tool.description.encode()))
        size += len(tool.name) + _PER_MESSAGE
    return size + _TEMPLATE_SLACK


# Per backend class: whether it is a `ContextWindow`. `isinstance` on a runtime Protocol
# walks the protocol's members on every call (~10 µs per LLM node); the members are
# class members (a property and a method), so the class answers for its instances.
_WINDOWED: dict[type, bool] = {}


def window_of(llm: LLM) -> ContextWindow | None:
    """`llm` as a `ContextWindow`, or None when its backend does not know its context."""
    known = _WINDOWED.get(type(llm))
    if known is None:
        known = _WINDOWED[type(llm)] = isinstance(llm, ContextWindow)
    return cast(ContextWindow, llm) if known else None


def budget_for(llm: LLM, params: Mapping[str, Any]) -> Budget | None:
    """The prompt budget of `llm` with these completion params; None when unknown."""
    window = window_of(llm)
    if window is None:
        return None
    size = window.context_size
    if not size:
        return None
    requested = params.get("max_tokens")
    max_tokens = requested if isinstance(requested, int) and requested > 0 else None
    if max_tokens is None:
        max_tokens = min(DEFAULT_MAX_TOKENS, size // 4)
    # Like Dify's recalc of max_tokens: never keep more room than a sixteenth-size prompt
    # would leave, so a large max_tokens shrinks instead of failing a short prompt.
    return Budget(size, min(max_tokens, size - max(size // 16, 16)))


async def fit(
    llm: LLM,
    messages: Sequence[ChatMessage],
    params: Mapping[str, Any],
    *,
    droppable: Sequence[range] = (),
    tools: Sequence[ToolSpec] = (),
    node_id: str | None = None,
) -> tuple[list[ChatMessage], dict[str, Any]]:
    """`messages` without the oldest `droppable` groups it takes to fit the budget, and
    the params with `max_tokens` lowered to the room left (as Dify's recalc does).

    `droppable` are index ranges into `messages`, oldest first, that may be left out
    as a whole. Raises `ContextOverflow` when nothing more can go and it still does
    not fit.
    """
    budget = budget_for(llm, params)
    window = window_of(llm)
    if budget is None or window is None:
        return list(messages), dict(params)
    requested = params.get("max_tokens")
    bound = upper_bound(messages, tools)
    room = requested if isinstance(requested, int) and requested > 0 else 0
    if bound <= budget.prompt_tokens and bound + room <= budget.context_size:
        return list(messages), dict(params)  # surely fits: no need to count exactly
    kept = list(messages)
    groups = [group for group in droppable if len(group)]
    dropped: set[int] = set()
    tokens = await window.count_tokens(kept, tools)
    while tokens > budget.prompt_tokens and groups:
        dropped.update(groups.pop(0))
        kept = [m for index, m in enumerate(messages) if index not in dropped]
        tokens = await window.count_tokens(kept, tools)
    if tokens > budget.prompt_tokens:
        raise ContextOverflow(tokens, budget, node_id)
    adjusted = dict(params)
    if isinstance(params.get("max_tokens"), int):
        adjusted["max_tokens"] = min(int(params["max_tokens"]), budget.context_size - tokens)
    return kept, adjusted
