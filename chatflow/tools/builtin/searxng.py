"""The `searxng` provider (`langgenius/searxng/searxng`): `searxng_search` against the
operator's SearXNG instance (`tools_searxng_url`, with the JSON output format enabled).

Yields the results as text and one json message per result (`title`, `url`, `content`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from chatflow.settings import Settings
from chatflow.tools.base import (
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolMessage,
    ToolParameter,
)
from chatflow.tools.builtin import _web
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

ID = "searxng"
CATEGORIES = ("general", "images", "videos", "news", "music", "it", "science", "files",
              "social_media")  # fmt: skip


def search_tool(settings: Settings) -> FunctionTool:
    async def searxng_search(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]:
        _web.require(settings, "searxng_search", "tools_searxng_url")
        query = required_text(params, "query")
        category = text_param(params, "search_type").strip() or "general"
        if category not in CATEGORIES:
            category = "general"
        base = str(settings.tools_searxng_url).rstrip("/")
        answer = await _web.fetch_json(
            ctx, "GET", f"{base}/search", tool="searxng_search",
            params={"q": query, "format": "json", "categories": category.replace("_", " ")},
        )  # fmt: skip
        results = [
            {"title": r.get("title", ""), "url": r.get("url", ""), "content": r.get("content", "")}
            for r in (answer.get("results") or [] if isinstance(answer, dict) else [])
            if isinstance(r, dict)
        ]
        if not results:
            for message in _web.no_results(query):
                yield message
            return
        yield TextMessage(_web.results_text(results, "url", "content"))
        for result in results:
            yield JsonMessage(result)

    descriptor = ToolDescriptor(
        ID, "searxng_search", "SearXNG Search", "Search the web with a SearXNG instance.",
        (
            ToolParameter("query", "string", "Query", "The search query.", required=True),
            ToolParameter(
                "search_type", "select", "Search type", "Category to search in.",
                default="general", options=CATEGORIES, form="form",
            ),
        ),
    )  # fmt: skip
    return FunctionTool(descriptor, searxng_search)


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        ("langgenius/searxng/searxng", "langgenius/searxng"),
        "SearXNG",
        [search_tool(settings)],
        needs=lambda: _web.missing(settings, "tools_searxng_url"),
    )
