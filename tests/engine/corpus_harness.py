"""Runs a corpus `Case`: the real engine, the fake model with scripted replies, the real
code sandbox, and a loopback HTTP server standing in for the DSL's remote hosts.

`LoopbackServer` is a real HTTP server on 127.0.0.1. A case's http-request URLs
(`https://api.exa.ai/search`) are rewritten in the DSL text to
`http://127.0.0.1:<port>/api.exa.ai/search`, and the engine's SSRF allow-list admits
127.0.0.1 only, so no request can reach a real host.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import Event
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes.base import CodeExecutor, EngineServices, KnowledgeBase
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import LLMChunk, LLMRequest, ToolCall, Usage
from chatflow.providers.fake import FakeLLM, FakeRegistry
from tests.engine.corpus_cases import DSL_DIR, Case, Route
from tests.engine.corpus_tools import corpus_tools


@dataclass
class Received:
    host: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class LoopbackServer:
    """Answers `routes[(host, path)]` for requests to `/<host><path>`; records them."""

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> LoopbackServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                host, _, rest = self.path.lstrip("/").partition("/")
                path = "/" + rest.split("?", 1)[0]
                owner.received.append(Received(host, path, dict(self.headers), body))
                route = owner.routes.get((host, path), Route('{"error": "no route"}', 404))
                payload = route.body.encode()
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps `shutdown` (at teardown) quick.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"


def fill(schema: Mapping[str, Any]) -> Any:
    """A plausible value for a JSON schema: arrays get one item, strings some text."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: fill(sub) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [fill(schema.get("items") or {"type": "string"})]
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return True
    return "solar panels"


class ScriptedLLM(FakeLLM):
    """The fake model, replying `reply` to requests whose messages contain `needle`
    (first match wins), and calling offered tools with `fill`ed arguments."""

    def __init__(self, replies: Sequence[tuple[str, str]]) -> None:
        super().__init__(("Hello", " world", "!"))
        self.replies = tuple(replies)

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        text = "\n".join(message.content for message in request.messages)
        if request.tools:
            self.calls += 1
            tool = request.tools[0]
            arguments = json.dumps(fill(tool.parameters), ensure_ascii=False)
            yield LLMChunk(tool_calls=(ToolCall(f"call_{self.calls}", tool.name, arguments),))
            yield LLMChunk(usage=Usage(prompt_tokens=len(text.split()), completion_tokens=1))
            return
        reply = next((answer for needle, answer in self.replies if needle in text), None)
        if reply is None:
            async for chunk in super().stream(request):
                yield chunk
            return
        self.calls += 1
        yield LLMChunk(text=reply)
        yield LLMChunk(
            usage=Usage(prompt_tokens=len(text.split()), completion_tokens=1), finish_reason="stop"
        )


async def read_upload(file: Any) -> bytes:
    """The file reader the server would give: every upload holds a short text."""
    return f"Contents of {getattr(file, 'filename', 'file')}: amount 42, date 2025-01-01".encode()


def dsl_text(case: Case, server: LoopbackServer) -> str:
    text = Path(DSL_DIR, case.file).read_text(encoding="utf-8")
    for host, _ in case.routes:
        for scheme in ("https://", "http://"):
            text = text.replace(f"{scheme}{host}/", f"{server.base}/{host}/")
    return text


async def run_case(
    case: Case,
    server: LoopbackServer,
    code: CodeExecutor,
    *,
    knowledge: KnowledgeBase | None = None,
    app_id: str = "app-1",
) -> tuple[list[Event], float]:
    """The case's events and the seconds its run took (from the loaded app). With
    `knowledge`, knowledge-retrieval nodes search it (as app `app_id`)."""
    server.routes = dict(case.routes)
    app = load_app(dsl_text(case, server))
    graph = to_graph(app)
    for node in graph.nodes.values():
        # Every remote call must go to the loopback server, never to the DSL's real host.
        url = str(getattr(node.config, "url", ""))
        assert node.type != "http-request" or url.startswith(server.base), (node.id, url)
    workflow = app.workflow
    environment = {v.name: v.value for v in workflow.environment_variables} if workflow else {}
    conversation = {v.name: v.value for v in workflow.conversation_variables} if workflow else {}
    conversation.update(case.conversation)
    models = FakeRegistry(ScriptedLLM(case.replies))
    # Built-in tools as an operator would set them up (SQL tools on a seeded SQLite, web
    # tools answered by the loopback server's routes).
    tools, _ = corpus_tools(Path(tempfile.mkdtemp(prefix="corpus-tools-")), models, server.base)
    services = EngineServices(
        models=models,
        limits=EngineLimits(),
        code=code,
        tools=tools,
        file_reader=read_upload,
        ssrf_allow="127.0.0.1",
        knowledge=knowledge,
    )
    system = {
        "query": case.query, "files": [], "conversation_id": "conv-1", "user_id": "user-1",
        "dialogue_count": case.dialogue_count, "app_id": app_id, "workflow_id": "wf-1",
    }  # fmt: skip
    pool = VariablePool(system=system, environment=environment, conversation=conversation)
    started = time.perf_counter()
    events = [
        event async for event in run_graph(graph, pool=pool, services=services, inputs=case.inputs)
    ]
    return events, time.perf_counter() - started


async def _time_cases(repeat: int = 5) -> None:
    """Print each case's outcome and median run time (the figures in docs/coverage.md)."""
    import statistics

    from chatflow.engine.events import RunFinished
    from chatflow.sandbox import SandboxExecutor
    from tests.engine.corpus_cases import CASES

    async with SandboxExecutor() as sandbox:
        with LoopbackServer() as server:
            for case in CASES:
                times = []
                for _ in range(1 if case.status == "partial-succeeded" else repeat):
                    events, seconds = await run_case(case, server, sandbox)
                    times.append(seconds)
                final = events[-1]
                assert isinstance(final, RunFinished)
                median = statistics.median(times) * 1000
                print(f"| {case.id} | {final.status} | {median:.1f} ms |")


if __name__ == "__main__":
    import asyncio

    asyncio.run(_time_cases())
