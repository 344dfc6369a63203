"""Every real DSL export imports, and runs end to end on the engine (Engine items 5, 6).

Runs use the fake model (scripted where a path needs specific text), the real code
sandbox and a loopback server for remote http-request hosts (`corpus_harness`). A run
either succeeds (or partial-succeeds through an error strategy), or stops at a provider
this engine does not ship, failing that node with a clear "not configured" error. The
cases, and why each ends the way it does, are in `corpus_cases.py`; `docs/coverage.md`
tabulates them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import NodeFinished, RunFinished, TextChunk
from chatflow.sandbox import SandboxExecutor
from tests.engine.corpus_cases import CASES, DSL_DIR, Case
from tests.engine.corpus_harness import LoopbackServer, dsl_text, run_case

FILES = sorted(Path(DSL_DIR).glob("*.yml"))
pytestmark = pytest.mark.skipif(not FILES, reason="DSL corpus not present")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loopback:
        yield loopback


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxExecutor]:
    # The sandbox process starts on the first code job only.
    async with SandboxExecutor(workers=2) as executor:
        yield executor


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_file_imports(path: Path) -> None:
    graph = to_graph(load_app(path.read_text(encoding="utf-8")))
    assert graph.nodes[graph.root_id].type == "start"


def test_every_file_has_a_run_case() -> None:
    assert {path.name for path in FILES} == {case.file for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_corpus_run(case: Case, server: LoopbackServer, sandbox: SandboxExecutor) -> None:
    events, _ = await run_case(case, server, sandbox)
    final = events[-1]
    assert isinstance(final, RunFinished)
    failed = [e for e in events if isinstance(e, NodeFinished) and e.status == "failed"]
    if case.status == "failed":
        assert final.status == "failed", final
        assert failed, "the run failed without a failed node"
        # The innermost failure comes first (a container fails after its child).
        first = failed[0]
        assert first.node_id == case.failed_node, (first.node_id, first.error)
        assert case.error and (first.error or "").startswith(case.error), first.error
        assert final.error == first.error
        return
    assert final.status == case.status, (final.error, failed)
    # Only boundary failures a container dropped, and each of those nodes was reached.
    assert {e.node_id for e in failed} == case.dropped
    assert all("is not configured" in (e.error or "") for e in failed)
    if case.status == "partial-succeeded":
        assert final.exceptions_count > 0
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    if case.answer is not None:
        assert case.answer in text
    ran = {
        str(getattr(event, "title", ""))
        for event in events
        if isinstance(event, NodeFinished)
        and event.node_type == "tool"
        and event.status == "succeeded"
    }
    tool_names = {
        node.id: str(getattr(node.config, "tool_name", ""))
        for node in to_graph(load_app(dsl_text(case, server))).nodes.values()
    }
    succeeded = {
        tool_names.get(event.node_id, "")
        for event in events
        if isinstance(event, NodeFinished)
        and event.node_type == "tool"
        and event.status == "succeeded"
    }
    assert set(case.tools_ran) <= succeeded, (case.tools_ran, succeeded, ran)
    # Every route the case declares was called, and only loopback was reached.
    called = {(r.host, r.path) for r in server.received}
    assert called == set(case.routes)
