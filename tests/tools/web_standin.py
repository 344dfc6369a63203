"""A loopback stand-in for the web the built-in tools reach: DuckDuckGo's HTML page,
SearXNG, Tavily, Perplexity, SerpApi (Google), a MediaWiki API, Google Translate's web
endpoint and some web pages. It records each request so tests can check what was sent
(keys included), and answers in each service's real response shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TAVILY_KEY = "tvly-test-key"
PERPLEXITY_KEY = "pplx-test-key"
SERPAPI_KEY = "serp-test-key"

ARTICLE = """<!doctype html><html><head><title>Solar power explained</title>
<meta name="author" content="Ann Lee"><meta property="article:published_time" content="2024-05-01">
<meta property="og:image" content="https://img.example/solar.png"></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<article><h1>Solar power explained</h1>
<p>Solar panels convert sunlight into electricity through the photovoltaic effect, and their
price has fallen by ninety percent over the last decade.</p>
<h2>History</h2><p>The photovoltaic effect was discovered in 1839 by Edmond Becquerel, a French
physicist who was only nineteen years old at the time.</p>
<p>See <a href="https://en.wikipedia.org/wiki/Solar_panel">the encyclopedia</a>.</p></article>
<footer>Copyright 2024 Example Corp</footer></body></html>"""


def ddg_page(results: list[tuple[str, str, str]]) -> str:
    items = "".join(
        f'<div class="result results_links web-result"><div class="links_main">'
        f'<h2 class="result__title"><a rel="nofollow" class="result__a" '
        f'href="//duckduckgo.com/l/?uddg={quote(url, safe="")}&amp;rut=abc">{title}</a></h2>'
        f'<a class="result__snippet" href="#">{body}</a></div></div>'
        for title, url, body in results
    )
    ad = (
        '<div class="result result--ad"><a class="result__a" '
        'href="https://duckduckgo.com/y.js?ad_domain=x">Ad</a></div>'
    )
    return f"<html><body>{ad}{items}</body></html>"


@dataclass
class WebStandIn:
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Base URL of this server once it runs (the DuckDuckGo results link to its pages).
    base: str = ""

    async def _record(self, request: Request) -> dict[str, Any]:
        body = await request.body()
        entry = {
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": dict(request.headers),
            "body": body.decode("utf-8", "replace"),
        }
        self.requests.append(entry)
        return entry

    async def duckduckgo(self, request: Request) -> Response:
        await self._record(request)
        form = await request.form()
        query = str(form.get("q", ""))
        if query == "nothing at all":
            return HTMLResponse("<html><body><div class='no-results'></div></body></html>")
        results = [
            (f"Result {i} for {query}", f"{self.base}/pages/article-{i}.html", f"Snippet {i}")
            for i in range(1, 8)
        ]
        return HTMLResponse(ddg_page(results))

    async def searxng(self, request: Request) -> Response:
        await self._record(request)
        query = request.query_params.get("q", "")
        if request.query_params.get("format") != "json":
            return PlainTextResponse("format not allowed", status_code=403)
        return JSONResponse(
            {"query": query, "results": [
                {"title": f"SearX {query}", "url": "https://searx.example/1", "content": "one"},
                {"title": "Second", "url": "https://searx.example/2", "content": "two"},
            ]}
        )  # fmt: skip

    async def tavily(self, request: Request) -> Response:
        entry = await self._record(request)
        if entry["headers"].get("authorization") != f"Bearer {TAVILY_KEY}":
            return JSONResponse({"detail": {"error": "Unauthorized"}}, status_code=401)
        body = await request.json()
        if request.url.path.endswith("/extract"):
            return JSONResponse(
                {"results": [{"url": u, "raw_content": f"content of {u}"} for u in body["urls"]]}
            )
        return JSONResponse(
            {"query": body["query"], "answer": "Tavily says yes.", "results": [
                {"title": "T1", "url": "https://t.example/1", "content": "c1", "score": 0.9},
            ]}
        )  # fmt: skip

    async def perplexity(self, request: Request) -> Response:
        entry = await self._record(request)
        if entry["headers"].get("authorization") != f"Bearer {PERPLEXITY_KEY}":
            return JSONResponse({"error": "bad key"}, status_code=401)
        body = await request.json()
        question = body["messages"][-1]["content"]
        return JSONResponse(
            {"model": body["model"], "citations": ["https://p.example/a"], "choices": [
                {"message": {"role": "assistant", "content": f"Answer about {question}."}}
            ]}
        )  # fmt: skip

    async def serpapi(self, request: Request) -> Response:
        await self._record(request)
        if request.query_params.get("api_key") != SERPAPI_KEY:
            return JSONResponse({"error": "Invalid API key."}, status_code=401)
        query = request.query_params["q"]
        return JSONResponse(
            {"organic_results": [
                {"position": 1, "title": f"Google {query}", "link": "https://g.example/1",
                 "snippet": "first"},
            ]}
        )  # fmt: skip

    async def mediawiki(self, request: Request) -> Response:
        await self._record(request)
        params = request.query_params
        if params.get("list") == "search":
            if params["srsearch"] == "zzzz":
                return JSONResponse({"query": {"search": []}})
            lang = request.path_params["lang"]
            return JSONResponse(
                {"query": {"search": [{"title": f"Solar ({lang})"}, {"title": "Sun"}]}}
            )
        pages = [
            {"title": title, "extract": f"{title} is a topic. It has a long history."}
            for title in params["titles"].split("|")
        ]
        return JSONResponse({"query": {"pages": pages}})

    async def translate(self, request: Request) -> Response:
        await self._record(request)
        text = request.query_params["q"]
        target = request.query_params["tl"]
        return JSONResponse([[[f"[{target}] {text}", text, None, None, 10]], None, "zh"])

    async def page(self, request: Request) -> Response:
        await self._record(request)
        name = request.path_params["name"]
        if name.endswith(".txt"):
            return PlainTextResponse("plain words")
        if name.endswith(".pdf"):
            return Response(b"%PDF-1.4", media_type="application/pdf")
        return HTMLResponse(ARTICLE)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/duckduckgo/html/", self.duckduckgo, methods=["POST"]),
                Route("/searxng/search", self.searxng),
                Route("/tavily/search", self.tavily, methods=["POST"]),
                Route("/tavily/extract", self.tavily, methods=["POST"]),
                Route("/perplexity/chat/completions", self.perplexity, methods=["POST"]),
                Route("/serpapi/search", self.serpapi),
                Route("/wiki/{lang}/w/api.php", self.mediawiki),
                Route("/translate_a/single", self.translate),
                Route("/pages/{name}", self.page),
            ]
        )

    def settings(self) -> dict[str, Any]:
        """Settings that point every web tool at this stand-in."""
        return {
            "ssrf_allow": "127.0.0.1",
            "tools_duckduckgo_url": f"{self.base}/duckduckgo/html/",
            "tools_searxng_url": f"{self.base}/searxng",
            "tools_tavily_url": f"{self.base}/tavily",
            "tools_tavily_api_key": TAVILY_KEY,
            "tools_perplexity_url": f"{self.base}/perplexity",
            "tools_perplexity_api_key": PERPLEXITY_KEY,
            "tools_google_search_url": f"{self.base}/serpapi/search",
            "tools_google_search_api_key": SERPAPI_KEY,
            "tools_wikipedia_url": f"{self.base}/wiki/{{language}}/w/api.php",
            "tools_google_translate_url": f"{self.base}/translate_a/single",
        }
