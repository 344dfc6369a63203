"""The `tavily` provider (`langgenius/tavily/tavily`): `tavily_search` and
`tavily_extract` on the Tavily API (`tools_tavily_url`, key `tools_tavily_api_key`)."""

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

ID = "tavily"
NEEDS = ("tools_tavily_api_key",)


def _headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.tools_tavily_api_key}"}


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def search_tool(settings: Settings) -> FunctionTool:
    async def tavily_search(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]:
        _web.require(settings, "tavily_search", *NEEDS)
        query = required_text(params, "query")
        body: dict[str, Any] = {
            "query": query,
            "search_depth": text_param(params, "search_depth") or "basic",
            "max_results": _web.int_param(params, "max_results", 5, 1, 20),
            "include_answer": _flag(params, "include_answer"),
            "topic": text_param(params, "topic") or "general",
        }
        url = settings.tools_tavily_url.rstrip("/") + "/search"
        answer = await _web.fetch_json(
            ctx, "POST", url, tool="tavily_search", headers=_headers(settings), json=body
        )
        results = answer.get("results") or [] if isinstance(answer, dict) else []
        text = _web.results_text(results, "url", "content")
        if isinstance(answer, dict) and answer.get("answer"):
            text = f"{answer['answer']}\n\n{text}"
        yield TextMessage(text or f"No results found for '{query}'.")
        if isinstance(answer, dict):
            yield JsonMessage(answer)

    descriptor = ToolDescriptor(
        ID, "tavily_search", "Tavily Search", "Search the web with Tavily.",
        (
            ToolParameter("query", "string", "Query", "The search query.", required=True),
            ToolParameter("search_depth", "select", "Depth", default="basic",
                          options=("basic", "advanced"), form="form"),
            ToolParameter("topic", "select", "Topic", default="general",
                          options=("general", "news", "finance"), form="form"),
            ToolParameter("max_results", "number", "Max results", default=5, form="form"),
            ToolParameter("include_answer", "boolean", "Answer", default=False, form="form"),
        ),
    )  # fmt: skip
    return FunctionTool(descriptor, tavily_search)


def extract_tool(settings: Settings) -> FunctionTool:
    async def tavily_extract(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]:
        _web.require(settings, "tavily_extract", *NEEDS)
        urls = [u.strip() for u in required_text(params, "urls").replace(",", " ").split()]
        url = settings.tools_tavily_url.rstrip("/") + "/extract"
        answer = await _web.fetch_json(
            ctx, "POST", url, tool="tavily_extract", headers=_headers(settings),
            json={"urls": urls},
        )  # fmt: skip
        results = answer.get("results") or [] if isinstance(answer, dict) else []
        text = "\n\n".join(f"URL: {r.get('url', '')}\n{r.get('raw_content', '')}" for r in results)
        yield TextMessage(text or "No content extracted.")
        if isinstance(answer, dict):
            yield JsonMessage(answer)

    descriptor = ToolDescriptor(
        ID, "tavily_extract", "Tavily Extract", "Extract the content of web pages.",
        (ToolParameter("urls", "string", "URLs", "Comma or space separated URLs.",
                       required=True),),
    )  # fmt: skip
    return FunctionTool(descriptor, tavily_extract)


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        ("langgenius/tavily/tavily", "langgenius/tavily"),
        "Tavily",
        [search_tool(settings), extract_tool(settings)],
        needs=lambda: _web.missing(settings, *NEEDS),
    )
