"""The `google` provider (`langgenius/google/google`): `google_search` through a
SerpApi-compatible endpoint (`tools_google_search_url`, key
`tools_google_search_api_key`), as Dify's Google tool does."""

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
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text

ID = "google"
NEEDS = ("tools_google_search_api_key",)


def search_tool(settings: Settings) -> FunctionTool:
    async def google_search(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]:
        _web.require(settings, "google_search", *NEEDS)
        query = required_text(params, "query")
        answer = await _web.fetch_json(
            ctx, "GET", settings.tools_google_search_url, tool="google_search",
            params={"q": query, "engine": "google", "api_key": settings.tools_google_search_api_key,
                    "num": _web.int_param(params, "num", 10, 1, 20)},
        )  # fmt: skip
        organic = answer.get("organic_results") or [] if isinstance(answer, dict) else []
        results = [
            {
                "title": r.get("title", ""),
                "link": r.get("link", ""),
                "snippet": r.get("snippet", ""),
            }
            for r in organic
            if isinstance(r, dict)
        ]
        if not results:
            for message in _web.no_results(query):
                yield message
            return
        yield TextMessage(_web.results_text(results, "link", "snippet"))
        yield JsonMessage({"organic_results": results})

    descriptor = ToolDescriptor(
        ID, "google_search", "Google Search", "Search the web with Google (through SerpApi).",
        (ToolParameter("query", "string", "Query", "key words for searching", required=True),),
    )  # fmt: skip
    return FunctionTool(descriptor, google_search)


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        ("langgenius/google/google", "langgenius/google", "google_search"),
        "Google",
        [search_tool(settings)],
        needs=lambda: _web.missing(settings, *NEEDS),
    )
