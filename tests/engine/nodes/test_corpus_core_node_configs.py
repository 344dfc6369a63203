"""Every llm / if-else / template-transform / aggregator / assigner node in the real DSL
exports (shared/dsl) and the benchmark DSLs parses into its typed Config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from _corpus import require_corpus

from chatflow.engine.nodes import spec_for

SHARED = Path(__file__).resolve().parents[4] / "shared"
TYPES = (
    "llm",
    "if-else",
    "template-transform",
    "variable-aggregator",
    "variable-assigner",
    "assigner",
)


def _nodes() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted([*SHARED.glob("dsl/*.yml"), *SHARED.glob("bench/dsl/*.yml")]):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        graph = (document.get("workflow") or {}).get("graph") or {}
        for node in graph.get("nodes") or []:
            data = node.get("data") or {}
            if data.get("type") in TYPES:
                found.append((f"{path.stem}:{node.get('id')}", data))
    return found


CASES = _nodes()


def test_corpus_covers_the_types() -> None:
    require_corpus()
    assert {data["type"] for _, data in CASES} >= {
        "llm",
        "if-else",
        "template-transform",
        "variable-aggregator",
        "assigner",
    }


@pytest.mark.parametrize(("name", "data"), CASES, ids=[name for name, _ in CASES])
def test_node_parses(name: str, data: dict[str, Any]) -> None:
    spec = spec_for(data["type"])
    assert spec is not None
    config = spec.config.model_validate(data)
    assert config.title == data.get("title", "")
