"""The web built-ins (search engines, webscraper, Wikipedia, translate, MCP config during
use) against loopback stand-ins, through the server's registry and tool runtime; the
SSRF allow-list admits only the loopback server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatflow.settings import Settings
from chatflow.tools.base import JsonMessage, TextMessage, ToolError, ToolMessage
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService
from tests.tools import mcp_demo
from tests.tools.loopback import serve
from tests.tools.web_standin import SERPAPI_KEY, TAVILY_KEY, WebStandIn


@pytest.fixture(scope="module")
def web() -> Iterator[WebStandIn]:
    stand_in = WebStandIn()
    with serve(stand_in.app()) as base:
        stand_in.base = base
        yield stand_in


@pytest.fixture(scope="module")
def mcp_urls() -> Iterator[tuple[str, str]]:
    with serve(mcp_demo.app("sse")) as sse, serve(mcp_demo.app("streamable_http")) as http:
        yield f"{sse}/sse", f"{http}/mcp"


def runtime(tmp_path: Path, **overrides: Any) -> ToolRuntimeService:
    settings = Settings(data_dir=tmp_path, **overrides)
    return ToolRuntimeService(build_registry(settings), settings=settings)


@pytest.fixture
def tools(web: WebStandIn, tmp_path: Path) -> ToolRuntimeService:
    return runtime(tmp_path, **web.settings())


async def run(
    service: ToolRuntimeService, provider: str, tool: str, **params: Any
) -> list[ToolMessage]:
    return [m async for m in service.messages(provider, tool, params)]


def texts(messages: list[ToolMessage]) -> str:
    return "".join(m.text for m in messages if isinstance(m, TextMessage))


def jsons(messages: list[ToolMessage]) -> list[Any]:
    return [m.value for m in messages if isinstance(m, JsonMessage)]


async def test_ddgo_search_yields_dify_shaped_results(
    tools: ToolRuntimeService, web: WebStandIn
) -> None:
    messages = await run(tools, "langgenius/duckduckgo/duckduckgo", "ddgo_search",
                         query="solar", max_results=3)  # fmt: skip
    results = jsons(messages)
    # Redirect links decoded, the ad dropped, max_results applied.
    assert [r["href"] for r in results] == [f"{web.base}/pages/article-{i}.html" for i in (1, 2, 3)]
    assert results[0] == {"title": "Result 1 for solar", "href": results[0]["href"],
                          "body": "Snippet 1"}  # fmt: skip
    assert "Result 2 for solar" in texts(messages)
    none = await run(tools, "duckduckgo", "ddgo_search", query="nothing at all")
    assert texts(none) == "No results found for 'nothing at all'."


async def test_searxng_tavily_perplexity_google(tools: ToolRuntimeService, web: WebStandIn) -> None:
    searx = await run(tools, "searxng", "searxng_search", query="wind", search_type="news")
    assert "SearX wind" in texts(searx) and len(jsons(searx)) == 2
    assert web.requests[-1]["query"]["categories"] == "news"

    tavily = await run(tools, "tavily", "tavily_search", query="q", max_results="3")
    assert texts(tavily).startswith("Tavily says yes.")
    assert json.loads(web.requests[-1]["body"])["max_results"] == 3
    extract = await run(
        tools, "tavily", "tavily_extract", urls="https://a.example https://b.example"
    )
    assert "content of https://b.example" in texts(extract)

    plex = await run(tools, "langgenius/perplexity/perplexity", "perplexity", query="Dify.AI 2024",
                     model="sonar", top_k=5, max_tokens=4096, search_domain_filter="")  # fmt: skip
    assert texts(plex) == "Answer about Dify.AI 2024."
    assert jsons(plex) == [{"content": "Answer about Dify.AI 2024.",
                            "citations": ["https://p.example/a"]}]  # fmt: skip
    sent = json.loads(web.requests[-1]["body"])
    assert (sent["model"], sent["top_k"], sent["max_tokens"]) == ("sonar", 5, 4096)
    assert "search_domain_filter" not in sent

    google = await run(tools, "google", "google_search", query="rust")
    assert "Google rust" in texts(google)
    assert web.requests[-1]["query"]["api_key"] == SERPAPI_KEY


async def test_wikipedia_and_translate(tools: ToolRuntimeService, web: WebStandIn) -> None:
    wiki = await run(tools, "wikipedia", "wikipedia_search", query="solar", language="English")
    assert texts(wiki).startswith("Page: Solar (en)\nSummary: Solar (en) is a topic.")
    assert "Page: Sun" in texts(wiki)
    german = await run(tools, "wikipedia", "wikipedia_search", query="solar", language="de")
    assert "Solar (de)" in texts(german)
    empty = await run(tools, "wikipedia", "wikipedia_search", query="zzzz")
    assert texts(empty) == "No good Wikipedia Search Result was found"
    translated = await run(tools, "google_translate", "translate", content="你好", dest="en")
    assert texts(translated) == "[en] 你好"


async def test_webscraper_and_markdown(tools: ToolRuntimeService, web: WebStandIn) -> None:
    page = f"{web.base}/pages/article.html"
    scraped = texts(await run(tools, "webscraper", "webscraper", url=page, user_agent="UA/1"))
    assert "TITLE: Solar power explained" in scraped and "AUTHORS: Ann Lee" in scraped
    body = scraped.split("TEXT:\n\n", 1)[1]
    assert "photovoltaic effect was discovered in 1839" in body
    assert "Copyright 2024" not in body and "About" not in body  # boilerplate dropped
    assert web.requests[-1]["headers"]["user-agent"] == "UA/1"
    markdown = texts(await run(tools, "webscraper", "url_to_markdown", url=page))
    assert markdown.startswith("# Solar power explained") and "## History" in markdown
    assert "[the encyclopedia](https://en.wikipedia.org/wiki/Solar_panel)" in markdown
    plain = await run(tools, "webscraper", "webscraper", url=f"{web.base}/pages/data.txt")
    assert texts(plain) == "plain words"
    with pytest.raises(ToolError, match="unsupported content-type application/pdf"):
        await run(tools, "webscraper", "webscraper", url=f"{web.base}/pages/doc.pdf")


async def test_missing_settings_name_the_variable(tmp_path: Path) -> None:
    bare = runtime(tmp_path)
    for provider, tool, variable in [
        ("searxng", "searxng_search", "CHATFLOW_TOOLS_SEARXNG_URL"),
        ("tavily", "tavily_search", "CHATFLOW_TOOLS_TAVILY_API_KEY"),
        ("perplexity", "perplexity", "CHATFLOW_TOOLS_PERPLEXITY_API_KEY"),
        ("google", "google_search", "CHATFLOW_TOOLS_GOOGLE_SEARCH_API_KEY"),
    ]:
        with pytest.raises(ToolError, match=variable):
            await run(bare, provider, tool, query="x")
        assert variable in (await bare.registry.missing(provider, tool) or "")


async def test_the_ssrf_guard_stands_between_tools_and_private_addresses(
    web: WebStandIn, tmp_path: Path
) -> None:
    settings = {**web.settings(), "ssrf_allow": ""}
    guarded = runtime(tmp_path, **settings)
    with pytest.raises(ToolError, match="not allowed"):
        await run(guarded, "webscraper", "webscraper", url=f"{web.base}/pages/article.html")
    with pytest.raises(ToolError, match="not allowed"):
        await run(guarded, "duckduckgo", "ddgo_search", query="x")
    with pytest.raises(ToolError, match="not allowed"):
        await run(guarded, "webscraper", "webscraper", url="http://169.254.169.254/latest/")


async def test_keys_stay_out_of_logs(
    tools: ToolRuntimeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await run(tools, "google", "google_search", query="rust")
    await run(tools, "tavily", "tavily_search", query="q")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request" in logged  # httpx did log the requests...
    assert SERPAPI_KEY not in logged and TAVILY_KEY not in logged  # ...without the keys


async def test_mcp_config_during_use(tools: ToolRuntimeService, mcp_urls: tuple[str, str]) -> None:
    sse, http = mcp_urls
    provider = "arrenxxxxx/mcp_config_during_use/mcp_config"
    for url in (sse, http):
        listed = json.loads(texts(await run(tools, provider, "mcp_list_tools", server_url=url,
                                            headers='{"X-Any": "1"}', timeout=10)))  # fmt: skip
        assert {"echo", "add"} <= {tool["name"] for tool in listed}
        called = await run(tools, provider, "mcp_call_tool", server_url=url, tool_name="add",
                           arguments='{"a": 1, "b": 2}')  # fmt: skip
        assert json.loads(texts(called)) == [{"type": "text", "text": "3"}]
    # Transport chosen explicitly; a wrong guess falls back to the other one.
    explicit = await run(
        tools, provider, "mcp_list_tools", server_url=http, transport="streamable_http"
    )
    assert "echo" in texts(explicit)
    with pytest.raises(ToolError, match="JSON"):
        await run(tools, provider, "mcp_call_tool", server_url=http, tool_name="add", arguments="{")


async def test_mcp_config_refuses_private_servers(
    web: WebStandIn, tmp_path: Path, mcp_urls: tuple[str, str]
) -> None:
    guarded = runtime(tmp_path, **{**web.settings(), "ssrf_allow": ""})
    answer = texts(await run(guarded, "mcp_config", "mcp_list_tools", server_url=mcp_urls[1]))
    assert answer.startswith("Error listing MCP Server tools:") and "not allowed" in answer
