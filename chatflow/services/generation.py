"""Small model calls around a chat: conversation names and suggested next questions.

Both use the app's own model (the first node in the graph that names one), as a Dify
workspace would use its default model, and fall back gracefully when the model's reply
is unusable: the name becomes the query, the suggestions an empty list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from chatflow.engine.graph import Graph
from chatflow.engine.nodes.base import Turn
from chatflow.providers.base import ChatMessage, LLMRequest, ModelRegistry

# Dify's prompt for "suggested questions after answer".
SUGGEST_PROMPT = (
    "Please help me predict the three most likely questions that human would ask, "
    "and keeping each question under 20 characters.\n"
    "MAKE SURE your output is the SAME language as the Assistant's latest response. "
    "The output format must be an array in JSON format, as follows: "
    '["question1","question2","question3"]\n'
)
NAME_PROMPT = (
    "Write a short title (at most eight words) for a conversation that starts with the "
    "user's message below. Use the same language as the message. Reply with the title "
    "only, without quotes."
)
_NAME_MAX = 75  # Dify cuts generated names here and appends "..."
# A title of at most eight words fits well within this; more would only keep the model
# (shared with the users' turns) busy for nothing.
_NAME_TOKENS = 32
_ARRAY = re.compile(r"\[.*\]", re.DOTALL)


def app_model(graph: Graph) -> tuple[str, str] | None:
    """The (provider, model) of the first node that calls a model, if any."""
    for node in graph.nodes.values():
        model = getattr(node.config, "model", None)
        provider = getattr(model, "provider", None)
        name = getattr(model, "name", None)
        if isinstance(provider, str) and isinstance(name, str) and provider:
            return provider, name
    return None


async def _complete(
    models: ModelRegistry,
    model: tuple[str, str],
    messages: Sequence[ChatMessage],
    max_tokens: int = 256,
) -> str:
    llm = models.llm(*model)
    parts: list[str] = []
    request = LLMRequest(messages=messages, params={"max_tokens": max_tokens, "temperature": 0.0})
    async for chunk in llm.stream(request):
        parts.append(chunk.text)
    return "".join(parts)


def _truncate(name: str) -> str:
    return name[:_NAME_MAX] + "..." if len(name) > _NAME_MAX else name


def query_name(query: str) -> str:
    """The name a conversation gets without a model: its first query, cut short."""
    return _truncate(" ".join(query.split()) or "New conversation")


async def generate_name(models: ModelRegistry, graph: Graph, query: str) -> str:
    """A conversation name for `query`; the query itself when no usable reply comes."""
    fallback = query_name(query)
    model = app_model(graph)
    if model is None:
        return fallback
    reply = await _complete(
        models,
        model,
        [ChatMessage("system", NAME_PROMPT), ChatMessage("user", query)],
        max_tokens=_NAME_TOKENS,
    )
    lines = [line.strip().strip("\"'`*#").strip() for line in reply.strip().splitlines()]
    name = next((line for line in lines if line), "")
    return _truncate(name) if name else fallback


async def suggest_questions(
    models: ModelRegistry, graph: Graph, turns: Sequence[Turn]
) -> list[str]:
    """Up to three follow-up questions from the conversation so far ([] if unusable)."""
    model = app_model(graph)
    if model is None or not turns:
        return []
    history = "\n".join(f"Human: {t.query}\nAssistant: {t.answer}" for t in turns)
    reply = await _complete(
        models,
        model,
        [ChatMessage("user", f"{history}\n\n{SUGGEST_PROMPT}")],
    )
    match = _ARRAY.search(reply)
    if match is None:
        return []
    try:
        parsed = json.loads(match.group(0))
    except ValueError:
        return []
    if not isinstance(parsed, list):
        return []
    return [str(q).strip() for q in parsed if isinstance(q, str | int | float) and str(q).strip()][
        :3
    ]
