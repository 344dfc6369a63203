"""Public corpus apps whose tool nodes call web tools run to success: DuckDuckGo and
the webscraper (simple-kimi), Wikipedia (deep-researcher), Perplexity in a loop
(loop-perplexity-search) and Google Translate in an iteration (json-translate-iteration).

Each tool's remote service is the loopback stand-in; the SSRF allow-list admits
127.0.0.1 only, so nothing leaves the machine. The fake model replies as scripted, the
code nodes run in the real sandbox.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import Event, NodeFinished, RunFinished, TextChunk
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes.base import EngineServices
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.providers.fake import FakeRegistry
from chatflow.sandbox import SandboxExecutor
from chatflow.settings import Settings
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService
from tests.engine.corpus_cases import DEEP_RESEARCH_REPLIES, DSL_DIR
from tests.engine.corpus_harness import ScriptedLLM, read_upload
from tests.tools.loopback import serve
from tests.tools.web_standin import WebStandIn

pytestmark = pytest.mark.skipif(not Path(DSL_DIR).is_dir(), reason="DSL corpus not present")


@dataclass(frozen=True)
class ToolCase:
    file: str
    inputs: dict[str, Any] = field(default_factory=dict)
    query: str = "hello"
    dialogue_count: int = 0
    replies: tuple[tuple[str, str], ...] = ()
    # Stand-in paths the run must have reached (which tools ran).
    reached: tuple[str, ...] = ()
    answer: str | None = None
    # Nodes whose failure a container drops (knowledge bases are not configured here).
    dropped: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return self.file.removesuffix(".yml")


CASES = (
    ToolCase(
        "simple-kimi.yml",
        inputs={"web_search": "开启", "role_def": ""},
        query="solar power",
        reached=("/duckduckgo/html/", "/pages/article-1.html"),
    ),
    ToolCase(
        "loop-perplexity-search.yml",
        reached=("/perplexity/chat/completions",),
    ),
    ToolCase(
        "json-translate-iteration.yml",
        inputs={"json_data": '{"title": "你好"}'},
        reached=("/translate_a/single",),
    ),
    ToolCase(
        "deep-researcher.yml",
        inputs={"Research_Theme": "solar power"},
        dialogue_count=4,
        replies=DEEP_RESEARCH_REPLIES,
        reached=("/wiki/en/w/api.php",),
        answer="报告已生成",
        # Each research pass also queries a knowledge base (none is configured here);
        # the iteration's remove-abnormal-output drops those passes' failures.
        dropped=frozenset(("1739288338449", "1739288362314", "1739288378358")),
    ),
)


DSL_TEXT = {
    case.file: Path(DSL_DIR, case.file).read_text(encoding="utf-8")
    for case in CASES
    if Path(DSL_DIR, case.file).is_file()
}


@pytest.fixture(scope="module")
def web() -> Iterator[WebStandIn]:
    stand_in = WebStandIn()
    with serve(stand_in.app()) as base:
        stand_in.base = base
        yield stand_in


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxExecutor]:
    async with SandboxExecutor(workers=2) as executor:
        yield executor


async def run_tool_case(
    case: ToolCase, web: WebStandIn, code: SandboxExecutor, data_dir: Path
) -> list[Event]:
    app = load_app(DSL_TEXT[case.file])
    graph = to_graph(app)
    settings = Settings(data_dir=data_dir, **web.settings())
    tools = ToolRuntimeService(build_registry(settings), settings=settings)
    services = EngineServices(
        models=FakeRegistry(ScriptedLLM(case.replies)),
        limits=EngineLimits(),
        code=code,
        tools=tools,
        file_reader=read_upload,
        ssrf_allow="127.0.0.1",
    )
    workflow = app.workflow
    environment = {v.name: v.value for v in workflow.environment_variables} if workflow else {}
    conversation = {v.name: v.value for v in workflow.conversation_variables} if workflow else {}
    system = {
        "query": case.query, "files": [], "conversation_id": "conv-1", "user_id": "user-1",
        "dialogue_count": case.dialogue_count, "app_id": "app-1", "workflow_id": "wf-1",
    }  # fmt: skip
    pool = VariablePool(system=system, environment=environment, conversation=conversation)
    return [e async for e in run_graph(graph, pool=pool, services=services, inputs=case.inputs)]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_corpus_app_runs_its_web_tools(
    case: ToolCase, web: WebStandIn, sandbox: SandboxExecutor, tmp_path: Path
) -> None:
    web.requests.clear()
    started = time.perf_counter()
    events = await run_tool_case(case, web, sandbox, tmp_path)
    final = events[-1]
    assert isinstance(final, RunFinished)
    failed = [
        (e.node_id, e.error) for e in events if isinstance(e, NodeFinished) and e.status == "failed"
    ]
    assert final.status == "succeeded", (final.error, failed, time.perf_counter() - started)
    assert {node for node, _ in failed} == case.dropped
    reached = {request["path"] for request in web.requests}
    assert set(case.reached) <= reached, reached
    if case.answer is not None:
        assert case.answer in "".join(e.text for e in events if isinstance(e, TextChunk))
