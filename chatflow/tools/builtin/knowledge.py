"""The `knowledge` provider: search the server's knowledge bases from a tool or an agent.

Dify gives agents a dataset-retriever tool per attached dataset; here one `search` tool
takes the dataset (an id, a name, or a reference the app has mapped with
`chatflow app import --dataset`) as a node setting and the query from the model. It goes
through the same `KnowledgeBase` as the knowledge-retrieval node, so the dataset's own
retrieval settings, the enabled-document rule and the app's mappings all apply.
Outputs: the chunks' text (what a model reads) and Dify's retrieval items as JSON.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from chatflow.engine.nodes.base import RetrievalRequest
from chatflow.errors import NodeError
from chatflow.tools.base import (
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolParameter,
)
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

if TYPE_CHECKING:
    from chatflow.settings import Settings

ID = "knowledge"
DEFAULT_TOP_K = 4
MAX_TOP_K = 20


def _top_k(params: Mapping[str, Any]) -> int:
    raw = params.get("top_k")
    if raw in (None, ""):
        return DEFAULT_TOP_K
    try:
        value = int(raw)
    except (TypeError, ValueError) as error:
        raise ToolError(f"parameter 'top_k' must be a whole number, got {raw!r}") from error
    return max(1, min(value, MAX_TOP_K))


async def search(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
    dataset = required_text(params, "dataset")
    query = required_text(params, "query")
    knowledge = ctx.services.get("knowledge")
    if knowledge is None:
        raise ToolError("knowledge search needs the server's knowledge bases")
    try:
        datasets = await knowledge.resolve(ctx.app_id, [dataset])
        items = await knowledge.retrieve(
            RetrievalRequest(datasets=tuple(datasets), query=query, top_k=_top_k(params))
        )
    except NodeError as error:
        raise ToolError(str(error)) from error
    threshold = text_param(params, "score_threshold")
    if threshold:
        try:
            floor = float(threshold)
        except ValueError as error:
            raise ToolError(f"parameter 'score_threshold' must be a number: {threshold}") from error
        items = [i for i in items if float(i.get("metadata", {}).get("score") or 0) >= floor]
    yield TextMessage("\n\n".join(str(item.get("content", "")) for item in items))
    yield JsonMessage(items)


def provider(settings: Settings) -> BuiltinProvider:
    descriptor = ToolDescriptor(
        ID,
        "search",
        "Knowledge search",
        "Search a knowledge base for passages about a question.",
        (
            ToolParameter("query", "string", "Query", "What to look for.", required=True),
            ToolParameter(
                "dataset", "string", "Knowledge base", "Dataset id or name.", True, form="form"
            ),
            ToolParameter("top_k", "number", "Top K", "How many passages.", form="form"),
            ToolParameter("score_threshold", "number", "Score threshold", form="form"),
        ),
    )
    return BuiltinProvider(
        ID, ("dataset_retriever", "langgenius/knowledge/knowledge"), "Knowledge", [
            FunctionTool(descriptor, search)
        ]
    )  # fmt: skip
