"""The `wikipedia` provider (`langgenius/wikipedia/wikipedia`): `wikipedia_search` on a
MediaWiki API (`tools_wikipedia_url`, `{language}` filled from the tool's `language`).

Like Dify's tool: the top three pages for the query, each as `Page: title` and
`Summary: intro`, joined and cut to 4,000 characters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from chatflow.settings import Settings
from chatflow.tools.base import TextMessage, ToolContext, ToolDescriptor, ToolParameter
from chatflow.tools.builtin import _web
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

ID = "wikipedia"
TOP_K = 3
MAX_CHARS = 4000
# DSLs write a language name as often as a code ("English" in deep-researcher).
LANGUAGES = {
    "english": "en", "chinese": "zh", "中文": "zh", "japanese": "ja", "日本語": "ja",
    "german": "de", "deutsch": "de", "french": "fr", "français": "fr", "spanish": "es",
    "español": "es", "russian": "ru", "portuguese": "pt", "italian": "it", "korean": "ko",
    "arabic": "ar", "dutch": "nl", "polish": "pl", "turkish": "tr", "vietnamese": "vi",
}  # fmt: skip


def language_code(value: str) -> str:
    text = value.strip()
    code = LANGUAGES.get(text.lower(), text.lower())
    if 2 <= len(code) <= 12 and code.replace("-", "").isalpha() and code.isascii():
        return code
    return "en"


def search_tool(settings: Settings) -> FunctionTool:
    async def wikipedia_search(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[TextMessage]:
        query = required_text(params, "query")
        api = settings.tools_wikipedia_url.replace(
            "{language}", language_code(text_param(params, "language") or "en")
        )
        found = await _web.fetch_json(
            ctx, "GET", api, tool="wikipedia_search",
            params={"action": "query", "list": "search", "srsearch": query,
                    "srlimit": TOP_K, "format": "json", "formatversion": 2},
        )  # fmt: skip
        hits = ((found or {}).get("query") or {}).get("search") or []
        titles = [str(hit.get("title")) for hit in hits if isinstance(hit, dict)][:TOP_K]
        if not titles:
            yield TextMessage("No good Wikipedia Search Result was found")
            return
        pages = await _web.fetch_json(
            ctx, "GET", api, tool="wikipedia_search",
            params={"action": "query", "prop": "extracts", "exintro": 1, "explaintext": 1,
                    "titles": "|".join(titles), "format": "json", "formatversion": 2,
                    "redirects": 1},
        )  # fmt: skip
        extracts = {
            str(page.get("title")): str(page.get("extract") or "")
            for page in ((pages or {}).get("query") or {}).get("pages") or []
            if isinstance(page, dict)
        }
        summaries = [
            f"Page: {title}\nSummary: {extracts[title].strip()}"
            for title in titles
            if extracts.get(title, "").strip()
        ]
        text = "\n\n".join(summaries)[:MAX_CHARS]
        yield TextMessage(text or "No good Wikipedia Search Result was found")

    descriptor = ToolDescriptor(
        ID, "wikipedia_search", "Wikipedia Search",
        "Search Wikipedia and return the summaries of the best pages.",
        (
            ToolParameter("query", "string", "Query", "key words for searching", required=True),
            ToolParameter("language", "string", "Language", "Wikipedia language (code or name).",
                          default="en"),
        ),
    )  # fmt: skip
    return FunctionTool(descriptor, wikipedia_search)


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        ("langgenius/wikipedia/wikipedia", "langgenius/wikipedia"),
        "Wikipedia",
        [search_tool(settings)],
        needs=lambda: _web.missing(settings, "tools_wikipedia_url"),
    )
