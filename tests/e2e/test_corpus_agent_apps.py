"""The corpus's agent apps end to end through `chatflow serve`, their tools on loopback.

`ai-agent-multi-tools` (an agent-chat app) and `smart-study-planner` (an advanced-chat
graph whose agent node searches Google) are imported by the real server, which talks
to every outside party on 127.0.0.1 only:

- the model: a scripted OpenAI-compatible server (the server's `openai` backend streams
  from it and reassembles its tool-call deltas), which calls the tools the app offers
  and then answers word by word with what they returned;
- SearXNG and SerpApi (Google): one HTTP stand-in the built-in tools query;
- SiliconFlow's Flux: a FastMCP server added with `chatflow tools add-mcp` and mapped
  with `chatflow tools map`, as an operator would;
- time: the built-in tool itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.server.fastmcp import FastMCP
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests._server_process import free_port
from tests.engine.corpus_cases import DSL_DIR
from tests.tools.loopback import serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not Path(DSL_DIR).is_dir(), reason="the shared corpus is not here"),
]

CLI = Path(sys.executable).with_name("chatflow")
MULTI_TOOLS = Path(DSL_DIR, "ai-agent-multi-tools.yml")
STUDY_PLANNER = Path(DSL_DIR, "smart-study-planner.yml")
SEARX_HIT = "Rust 1.80 released with LazyCell"
GOOGLE_HIT = "The Rust Book: learn Rust in 30 days"
PICTURE = "https://images.example/robot.png"


# --- the stand-ins -------------------------------------------------------------------


def search_engines() -> Starlette:
    """SearXNG's `/search?format=json` and SerpApi's `/serpapi` on one server."""

    async def searx(request: Request) -> JSONResponse:
        assert request.query_params["format"] == "json"
        query = request.query_params["q"]
        hit = {"title": SEARX_HIT, "url": "https://blog.rust-lang.org", "content": query}
        return JSONResponse({"results": [hit]})

    async def serpapi(request: Request) -> JSONResponse:
        assert request.query_params["api_key"] == "serp-key"
        hit = {"title": GOOGLE_HIT, "link": "https://doc.rust-lang.org/book", "snippet": "free"}
        return JSONResponse({"organic_results": [hit]})

    return Starlette(routes=[Route("/search", searx), Route("/serpapi", serpapi)])


def flux_server() -> FastMCP:
    mcp = FastMCP("flux", log_level="WARNING")

    @mcp.tool()
    def flux(prompt: str) -> str:
        """Draw a picture from a prompt (stand-in for SiliconFlow's Flux)."""
        return f"![{prompt}]({PICTURE})"

    return mcp


class ScriptedModel:
    """An OpenAI-compatible chat endpoint that plays an agent's model: it calls the
    tools the request offers (several at once where the script says so), then answers
    word by word quoting what they returned. Records every request body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> StreamingResponse:
        body = await request.json()
        self.requests.append(body)
        offered = {tool["function"]["name"]: tool["function"] for tool in body.get("tools") or []}
        results = [m for m in body["messages"] if m["role"] == "tool"]
        called = {
            c["function"]["name"] for m in body["messages"] for c in m.get("tool_calls") or []
        }
        calls: list[tuple[str, dict[str, Any]]] = []
        if "current_time" in offered and not called:
            calls = [("current_time", {}), ("searxng_search", {"query": "rust news"})]
        elif "flux" in offered and "flux" not in called:
            calls = [("flux", {"prompt": "a robot reading the news"})]
        elif "google_search" in offered and not called:
            calls = [("google_search", {"query": "learn rust"})]
        elif offered and not called:  # a node's own function (the parameter extractor)
            name, function = next(iter(offered.items()))
            calls = [(name, _fill(function.get("parameters") or {}))]
        if calls:
            return _stream(_tool_call_chunks(calls))
        if results:
            words = ["Here", " is", " what", " I", " found:"]
            words += [f" {m['content']}" for m in results]
        elif any("category_id" in str(m.get("content")) for m in body["messages"]):
            words = ['{"category_id": "1", "category_name": "details"}']
        else:
            words = ["Noted", "."]
        return _stream(_text_chunks(words))


def _fill(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: _fill(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        return 1
    return "rust"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]})


def _tool_call_chunks(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each call as OpenAI streams it: id and name first, the arguments in pieces."""
    chunks = []
    for index, (name, arguments) in enumerate(calls):
        head = {"index": index, "id": f"call_{name}", "type": "function",
                "function": {"name": name, "arguments": ""}}  # fmt: skip
        chunks.append(_chunk({"role": "assistant", "tool_calls": [head]}))
        text = json.dumps(arguments)
        for start in range(0, len(text), 5):
            piece = {"index": index, "function": {"arguments": text[start : start + 5]}}
            chunks.append(_chunk({"tool_calls": [piece]}))
    chunks.append(_chunk({}, "tool_calls"))
    return chunks


def _text_chunks(words: list[str]) -> list[str]:
    return [_chunk({"content": word}) for word in words] + [_chunk({}, "stop")]


def _stream(chunks: list[str]) -> StreamingResponse:
    usage = {
        "prompt_tokens": 20,
        "completion_tokens": len(chunks),
        "total_tokens": 20 + len(chunks),
    }

    async def body() -> AsyncIterator[str]:
        for chunk in chunks:
            yield chunk + "\n\n"
        yield "data: " + json.dumps({"choices": [], "usage": usage}) + "\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


# --- the server --------------------------------------------------------------------


class Served:
    def __init__(self, base_url: str, keys: dict[str, str], model: ScriptedModel) -> None:
        self.base_url, self.keys, self.model = base_url, keys, model

    def client(self, app: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[app]}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    def stream(self, app: str, query: str, **body: Any) -> list[dict[str, Any]]:
        payload = {"inputs": {}, "query": query, "user": "e2e", "response_mode": "streaming"}
        with (
            self.client(app) as client,
            client.stream("POST", "/chat-messages", json={**payload, **body}) as response,
        ):
            assert response.status_code == 200, response.read()
            lines = [line for line in response.iter_lines() if line.startswith("data: ")]
        return [json.loads(line[6:]) for line in lines]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("data")
    model = ScriptedModel()
    with (
        serve(model.app()) as model_url,
        serve(search_engines()) as search_url,
        serve(flux_server().streamable_http_app()) as flux_url,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATFLOW_")}
        env.pop("DATABASE_URL", None)
        env.update(
            CHATFLOW_DATA_DIR=str(data_dir),
            CHATFLOW_SSRF_ALLOW="127.0.0.1",
            CHATFLOW_MODEL_BACKEND="openai",
            CHATFLOW_OPENAI_BASE_URL=f"{model_url}/v1",
            CHATFLOW_OPENAI_MODEL="scripted",
            CHATFLOW_TOOLS_SEARXNG_URL=search_url,
            CHATFLOW_TOOLS_GOOGLE_SEARCH_URL=f"{search_url}/serpapi",
            CHATFLOW_TOOLS_GOOGLE_SEARCH_API_KEY="serp-key",
        )
        for command in (
            ["tools", "add-mcp", "images", f"{flux_url}/mcp"],
            ["tools", "map", "siliconflow:flux", "images:flux"],
        ):
            done = subprocess.run([str(CLI), *command], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        port = free_port()
        process = subprocess.Popen(
            [str(CLI), "serve", str(MULTI_TOOLS), str(STUDY_PLANNER),
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            keys = _keys(process)
            yield Served(f"http://127.0.0.1:{port}/v1", keys, model)
        finally:
            process.terminate()
            process.wait(timeout=20)


def _keys(process: subprocess.Popen[str]) -> dict[str, str]:
    """The imported apps' keys, from serve's start-up lines (`NAME ... key=app-...`)."""
    assert process.stdout is not None
    keys: dict[str, str] = {}
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if match := re.search(r"key=(app-\w+)", line):
            keys["planner" if "Study Planner" in line else "multi"] = match.group(1)
        if "Application startup complete" in line:
            return keys
    raise AssertionError("serve did not start:\n" + "".join(lines))


# --- the runs ----------------------------------------------------------------------


def test_multi_tools_agent_runs_builtin_http_and_mcp_tools_and_streams(served: Served) -> None:
    frames = served.stream("multi", "What is new in Rust? Draw it too.")
    kinds = [f["event"] for f in frames]
    # The app autoplays speech: its `tts_message` frames follow `message_end`, as Dify's.
    end = kinds.index("message_end")
    assert set(kinds[end + 1 :]) <= {"tts_message", "tts_message_end"}, kinds[end:]
    assert not any(k.startswith(("workflow_", "node_")) for k in kinds)  # an agent-chat app
    thoughts = {}
    for frame in frames:  # each thought's last state
        if frame["event"] == "agent_thought":
            thoughts[frame["id"]] = frame
    first, second, last = list(thoughts.values())
    # Round 1: time and SearXNG at once; round 2: Flux through the mapped MCP server.
    assert first["tool"] == "current_time;searxng_search"
    observed = json.loads(first["observation"])
    assert re.match(r"\d{4}-\d{2}-\d{2} ", observed["current_time"])
    assert SEARX_HIT in observed["searxng_search"]
    assert second["tool"] == "flux" and PICTURE in json.loads(second["observation"])["flux"]
    assert last["tool"] == ""
    answer = [f["answer"] for f in frames if f["event"] == "agent_message"]
    text = "".join(answer)
    assert len(answer) >= 6 and "Here is what I found:" in text  # streamed word by word
    assert SEARX_HIT in text and PICTURE in text
    assert kinds.index("agent_message") < end
    # The model was offered the app's tools, with the MCP stand-in's schema for flux.
    offered = {t["function"]["name"]: t for t in served.model.requests[0]["tools"]}
    assert {"current_time", "searxng_search", "flux"} <= set(offered)
    assert offered["flux"]["function"]["parameters"]["properties"]["prompt"]["type"] == "string"
    with served.client("multi") as client:
        params = {"user": "e2e", "conversation_id": frames[end]["conversation_id"]}
        [message] = client.get("/messages", params=params).json()["data"]
    assert [t["tool"] for t in message["agent_thoughts"]] == [
        "current_time;searxng_search",
        "flux",
        "",
    ]
    assert message["answer"] == text


def test_study_planner_reaches_its_agent_which_searches_google(served: Served) -> None:
    first = served.stream("planner", "I want to learn Rust.")
    assert first[-1]["event"] == "workflow_finished", first[-2:]
    assert first[-1]["data"]["status"] == "succeeded", first[-1]["data"]["error"]
    conversation = first[-1]["conversation_id"]
    # The plan is made: set the conversation's variables as the earlier turns would have.
    values = {"is_first_mesage": 0, "Learning_plan": "Rust in 30 days", "Area_of_interest":
              "Rust", "Learning_objective": "ship a CLI", "Learning_time": "1 hour a day",
              "Learning_preferences": "books"}  # fmt: skip
    with served.client("planner") as client:
        page = client.get(
            f"/conversations/{conversation}/variables", params={"user": "e2e", "limit": 100}
        ).json()["data"]
        ids = {v["name"]: v["id"] for v in page}
        for name, value in values.items():
            response = client.put(
                f"/conversations/{conversation}/variables/{ids[name]}",
                json={"value": value, "user": "e2e"},
            )
            assert response.status_code == 200, response.text
    frames = served.stream(
        "planner", "Which book should I start with?", conversation_id=conversation
    )
    finished = frames[-1]
    assert finished["event"] == "workflow_finished", frames[-2:]
    assert finished["data"]["status"] == "succeeded", finished["data"]["error"]
    ran = [f["data"]["node_type"] for f in frames if f["event"] == "node_finished"]
    assert "question-classifier" in ran and "agent" in ran
    logs = [f["data"] for f in frames if f["event"] == "agent_log"]
    call = [
        log for log in logs if log["label"] == "CALL google_search" and log["status"] != "start"
    ]
    assert call and GOOGLE_HIT in str(call[-1]["data"]["output"])
    # The agent's answer streams to the 深入咨询 answer node, word by word.
    pieces = [f["answer"] for f in frames if f["event"] == "message"]
    text = "".join(pieces)
    assert "Here is what I found:" in text and GOOGLE_HIT in text
    assert len([p for p in pieces if p]) >= 5
