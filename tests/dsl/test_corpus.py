"""Every real DSL export loads into a runnable graph: every node type it uses is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.dsl import load_app, to_graph

FILES = sorted((Path(__file__).resolve().parents[3] / "shared" / "dsl").glob("*.yml")) + sorted(
    (Path(__file__).resolve().parents[3] / "shared" / "bench" / "dsl").glob("*.yml")
)


@pytest.mark.skipif(not FILES, reason="DSL corpus not present")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_loads(path: Path) -> None:
    app = load_app(path.read_text())
    graph = to_graph(app)
    assert graph.nodes[graph.root_id].type == "start"
    assert app.mode in ("advanced-chat", "workflow", "chat", "agent-chat")
    assert graph.mode == ("workflow" if app.mode == "workflow" else "advanced-chat")
