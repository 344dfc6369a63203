"""The registry (id forms, mappings, missing tools) and the runtime through the real tool
node and engine: every message kind becomes Dify's outputs, files are stored (image
fetched over loopback HTTP), and error strategies and retries apply to a failing tool."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chatflow.engine.events import NodeFinished, RunFinished
from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes.base import EngineServices, ToolCaller
from chatflow.providers.fake import FakeRegistry
from chatflow.services.tool_files import ToolFileService
from chatflow.store import Database
from chatflow.store.models import ToolFile
from chatflow.store.storage import LocalFileStorage
from chatflow.tools.base import (
    BlobMessage,
    ImageMessage,
    JsonMessage,
    LinkMessage,
    TextMessage,
    Tool,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolParameter,
    VariableMessage,
)
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool
from chatflow.tools.catalog import build_registry
from chatflow.tools.registry import ToolNotFound, ToolRegistry
from chatflow.tools.runtime import ToolRuntimeService
from chatflow.tools.signing import FileSigner
from tests.engine.conftest import build, chain, collect, edge, node
from tests.tools.conftest import settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def image_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
async def tool_files(tmp_path: Path) -> AsyncIterator[ToolFileService]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'chatflow.db'}")
    await db.connect()
    yield ToolFileService(db, LocalFileStorage(tmp_path / "uploads"), FileSigner(b"k"))
    await db.close()


def _provider(image_url: str = "", failures: list[int] | None = None) -> BuiltinProvider:
    async def everything(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        yield TextMessage(f"hi {params['who']}")
        yield LinkMessage("https://example.org/x")
        yield BlobMessage(b"col\n1\n", "../../escape.csv", "text/csv")
        if image_url:
            yield ImageMessage(f"{image_url}/chart.png")
        yield JsonMessage({"n": params["n"]})
        yield JsonMessage("bare")
        yield VariableMessage("score", 0.5)

    async def flaky(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        assert failures is not None
        if failures[0] > 0:
            failures[0] -= 1
            raise ToolError("upstream is down")
        yield TextMessage("recovered")

    tools: Sequence[Tool] = [
        FunctionTool(
            ToolDescriptor(
                "demo",
                "everything",
                parameters=(
                    ToolParameter("who", required=True),
                    ToolParameter("n", "number"),
                ),
            ),
            everything,
        ),
        FunctionTool(ToolDescriptor("demo", "flaky"), flaky),
    ]
    return BuiltinProvider("demo", ("acme/demo/demo",), "Demo", tools)


async def test_id_forms_and_mappings(tmp_path: Path) -> None:
    registry = build_registry(settings(tmp_path))
    for provider in ("time", "langgenius/time/time", "someone/time/time"):
        assert (await registry.describe(provider, "current_time")).provider == "time"
    registry.map("0b6b-uuid-of-a-workspace-api-tool", "maths")
    registry.map("acme/weather/weather:forecast", "time:current_time")
    assert (await registry.describe("0b6b-uuid-of-a-workspace-api-tool", "eval_expression")).name
    assert (await registry.describe("acme/weather/weather", "forecast")).name == "current_time"
    with pytest.raises(ToolNotFound) as missing:
        await registry.find("acme/mineru/mineru", "parse-file")
    assert "tool provider 'acme/mineru/mineru' is not configured" in missing.value.message
    assert "chatflow tools map 'acme/mineru/mineru:parse-file' PROVIDER:TOOL" in (
        missing.value.message
    )
    with pytest.raises(ToolNotFound, match="'nope' is not a tool of provider 'time'"):
        await registry.find("time", "nope")


def test_json_schema_offers_llm_parameters_only() -> None:
    descriptor = ToolDescriptor(
        "p",
        "t",
        parameters=(
            ToolParameter("q", "string", description="the query", required=True),
            ToolParameter("n", "integer"),
            ToolParameter("mode", "select", options=("a", "b")),
            ToolParameter("key", "secret-input", form="form"),
        ),
    )
    assert descriptor.json_schema() == {
        "type": "object",
        "properties": {
            "q": {"type": "string", "description": "the query"},
            "n": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a", "b"]},
        },
        "required": ["q"],
    }


async def test_messages_become_node_outputs(
    tmp_path: Path, tool_files: ToolFileService, image_server: str
) -> None:
    registry = ToolRegistry([_provider(image_server)])
    runtime = ToolRuntimeService(
        registry, files=tool_files, settings=settings(tmp_path, ssrf_allow="127.0.0.1")
    )
    graph = build(
        nodes=[
            node("start", "start"),
            node(
                "t",
                "tool",
                provider_id="acme/demo/demo",
                provider_type="builtin",
                tool_name="everything",
                tool_parameters={
                    "who": {"type": "mixed", "value": "{{#sys.query#}}"},
                    "n": {"type": "constant", "value": "3"},
                },
            ),
            node("answer", "answer", answer="{{#t.text#}}{{#t.files#}}"),
        ],
        edges=chain("start", "t", "answer"),
    )
    engine = EngineServices(models=FakeRegistry(), limits=EngineLimits(), tools=runtime)
    events = await collect(graph, query="Ann", engine=engine)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "succeeded"
    (done,) = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "t"]
    outputs = done.outputs
    assert outputs["text"] == "hi AnnLink: https://example.org/x\n"
    assert outputs["json"] == [{"n": 3}, {"data": "bare"}]
    assert outputs["score"] == 0.5
    csv_file, image = outputs["files"]
    assert isinstance(csv_file, File) and isinstance(image, File)
    assert (csv_file.transfer_method, csv_file.filename, csv_file.extension) == (
        "tool_file",
        "escape.csv",
        ".csv",
    )
    assert image.type == "image" and image.mime_type == "image/png" and image.size == len(PNG)
    assert csv_file.url and csv_file.url.startswith(f"/files/tools/{csv_file.id}.csv?timestamp=")
    row = await tool_files.find(csv_file.id or "")
    assert isinstance(row, ToolFile) and row.mime_type == "text/csv"
    assert b"".join([c async for c in tool_files.stream(row)]) == b"col\n1\n"
    # The answer node shows the files (the SSE layer sends them as message_file).
    (answer,) = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "answer"]
    assert answer.outputs["files"] == [csv_file, image]


async def test_caller_is_recorded(tool_files: ToolFileService) -> None:
    caller = ToolCaller(app_id="app-1", user_id="u-1", conversation_id="c-1")
    saved = await tool_files.save(b"x", "a.txt", "text/plain", caller)
    row = await tool_files.find(saved.id or "")
    assert row is not None and (row.app_id, row.user_id, row.conversation_id) == (
        "app-1",
        "u-1",
        "c-1",
    )
    assert await tool_files.find("../../etc/passwd") is None


def _flaky_graph(**data: Any) -> Any:
    return build(
        nodes=[
            node("start", "start"),
            node("t", "tool", provider_id="demo", tool_name="flaky", **data),
            node("ok", "answer", answer="ok {{#t.text#}}"),
            node("failed", "answer", answer="failed: {{#t.error_message#}}"),
        ],
        edges=[edge("start", "t"), edge("t", "ok"), edge("t", "failed", "fail-branch")],
    )


@pytest.mark.parametrize(
    ("data", "failures", "status", "answer"),
    [
        ({}, 1, "failed", None),
        (
            {"retry_config": {"retry_enabled": True, "max_retries": 2, "retry_interval": 1}},
            2,
            "succeeded",
            "ok recovered",
        ),
        (
            {
                "error_strategy": "default-value",
                "default_value": [{"key": "text", "type": "string", "value": "fallback"}],
            },
            1,
            "partial-succeeded",
            "ok fallback",
        ),
        ({"error_strategy": "fail-branch"}, 1, "partial-succeeded", "failed: upstream is down"),
    ],
)
async def test_error_strategies_and_retries(
    data: dict[str, Any], failures: int, status: str, answer: str | None
) -> None:
    left = [failures]
    runtime = ToolRuntimeService(ToolRegistry([_provider(failures=left)]))
    engine = EngineServices(models=FakeRegistry(), limits=EngineLimits(), tools=runtime)
    events = await collect(_flaky_graph(**data), engine=engine)
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == status, final
    if answer is None:
        assert final.error == "upstream is down"
    else:
        texts = [e.outputs.get("answer") for e in events if isinstance(e, NodeFinished)]
        assert answer in texts


async def test_unconfigured_provider_fails_the_node_with_the_setting(tmp_path: Path) -> None:
    runtime = ToolRuntimeService(build_registry(settings(tmp_path)))
    graph = build(
        nodes=[
            node("start", "start"),
            node(
                "t",
                "tool",
                provider_id="hjlarry/database/database",
                tool_name="sql_execute",
                tool_parameters={"query": {"type": "constant", "value": "select 1"}},
            ),
            node("a", "answer", answer="{{#t.text#}}"),
        ],
        edges=chain("start", "t", "a"),
    )
    engine = EngineServices(models=FakeRegistry(), limits=EngineLimits(), tools=runtime)
    final = (await collect(graph, engine=engine))[-1]
    assert isinstance(final, RunFinished) and final.status == "failed"
    assert final.error == (
        "tool provider 'hjlarry/database/database' is not configured: set CHATFLOW_TOOLS_SQL_URL"
    )
