"""The node registry: every listed module is imported, and each DSL type maps to it."""

from __future__ import annotations

import importlib

import pytest

from chatflow.engine import nodes
from chatflow.engine.nodes import REGISTRY, spec_for


def test_every_listed_module_is_registered_under_its_types() -> None:
    for name in nodes._MODULES:
        module = importlib.import_module(f"chatflow.engine.nodes.{name}")
        types = module.TYPE if isinstance(module.TYPE, tuple) else (module.TYPE,)
        for node_type in types:
            spec = spec_for(node_type)
            assert spec is not None, node_type
            assert spec.run is module.run and spec.config is module.Config


def test_design_node_types_are_all_registered() -> None:
    # DESIGN.md section 3's node types.
    expected = {
        "start", "answer", "end", "llm", "knowledge-retrieval", "question-classifier",
        "if-else", "code", "template-transform", "http-request", "tool", "agent",
        "variable-aggregator", "variable-assigner", "assigner", "parameter-extractor",
        "iteration", "iteration-start", "loop", "loop-start", "loop-end", "list-operator",
        "document-extractor", "human-input",
    }  # fmt: skip
    assert expected <= set(REGISTRY)


def test_a_missing_module_is_an_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nodes, "_MODULES", (*nodes._MODULES, "no_such_node"))
    with pytest.raises(ModuleNotFoundError):
        nodes._load()
