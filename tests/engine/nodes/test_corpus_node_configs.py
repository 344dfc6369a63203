"""Every corpus node of H's types parses into its typed Config (shared/dsl/*.yml)."""

from __future__ import annotations

from typing import Any

import pytest
from _corpus import corpus_nodes, require_corpus

from chatflow.engine.nodes import spec_for

TYPES = (
    "question-classifier",
    "parameter-extractor",
    "iteration",
    "iteration-start",
    "loop",
    "loop-start",
    "list-operator",
    "document-extractor",
    "tool",
    "agent",
    "knowledge-retrieval",
)
CASES = [(node_type, name, data) for node_type in TYPES for name, data in corpus_nodes(node_type)]


def test_corpus_has_every_type() -> None:
    require_corpus()
    assert {case[0] for case in CASES} == set(TYPES)


@pytest.mark.parametrize(("node_type", "name", "data"), CASES, ids=[c[1] for c in CASES])
def test_corpus_node_parses(node_type: str, name: str, data: dict[str, Any]) -> None:
    spec = spec_for(node_type)
    assert spec is not None, node_type
    config = spec.config.model_validate(data)
    assert config.type == node_type and config.title == data["title"]
