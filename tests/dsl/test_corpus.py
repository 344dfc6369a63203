"""Every real DSL export loads, or fails only because a node type is not written yet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatflow.dsl import DSLError, load_app, to_graph
from chatflow.engine.nodes import REGISTRY

FILES = sorted(Path("/work/shared/dsl").glob("*.yml")) + sorted(
    Path("/work/shared/bench/dsl").glob("*.yml")
)
MISSING_TYPE = re.compile(r"^node \S+ \(([a-z0-9-]+)\): unsupported node type '([a-z0-9-]+)'$")


@pytest.mark.skipif(not FILES, reason="DSL corpus not present")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_loads_or_names_its_missing_node_type(path: Path) -> None:
    try:
        app = load_app(path.read_text())
    except DSLError as exc:
        match = MISSING_TYPE.match(str(exc))
        assert match, f"{path.name}: {exc}"
        assert match.group(1) == match.group(2)
        assert match.group(1) not in REGISTRY
        return
    graph = to_graph(app)
    assert graph.nodes[graph.root_id].type == "start"
    assert app.mode in ("advanced-chat", "workflow", "chat", "agent-chat")
    assert graph.mode == ("workflow" if app.mode == "workflow" else "advanced-chat")
