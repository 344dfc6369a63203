"""Node registry: maps a DSL node type string to its module's Config and run function.

Each node module defines `TYPE` (a string or tuple of strings), `Config` and `run`:
an async generator of `NodeEvent`s ending with a `NodeResult`, or, for a node that
neither waits nor streams, a plain function returning its `NodeResult` (an "instant"
node: the scheduler then skips the generator machinery, a few µs per node).
A node whose kind depends on its config (a template that may be slow renders on a
worker thread, others inline) also defines `run_for(config) -> NodeRun`, which picks
the run once, when the DSL is imported (`NodeSpec.run_of`).
Adding a node type means adding a module and listing it in `_MODULES`. Every listed
module is imported when this package is: a missing or broken module is an import error,
never a node type that silently disappears from the registry.
"""

from __future__ import annotations

import builtins
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatflow.engine.nodes.base import NodeConfig, NodeRun, node_kind

_MODULES: tuple[str, ...] = (
    "start",
    "answer",
    "end",
    "llm",
    "if_else",
    "template_transform",
    "variable_aggregator",
    "assigner",
    "question_classifier",
    "parameter_extractor",
    "iteration",
    "iteration_start",
    "loop",
    "loop_start",
    "loop_end",
    "list_operator",
    "document_extractor",
    "tool",
    "agent",
    "knowledge_retrieval",
    "code",
    "http_request",
    "human_input",
)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    type: str
    config: builtins.type[NodeConfig]  # `type` alone would name the field above
    run: NodeRun
    # The module's `run_for`, when the run depends on the config.
    run_for: Callable[[Any], NodeRun] | None = None

    def __post_init__(self) -> None:
        node_kind(self.run)  # refuses a run that is neither instant nor streaming

    def run_of(self, config: NodeConfig) -> NodeRun:
        """The run a node with this (validated) config uses."""
        return self.run if self.run_for is None else self.run_for(config)


def _load() -> dict[str, NodeSpec]:
    registry: dict[str, NodeSpec] = {}
    for name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        types = module.TYPE if isinstance(module.TYPE, tuple) else (module.TYPE,)
        for node_type in types:
            registry[node_type] = NodeSpec(
                node_type, module.Config, module.run, getattr(module, "run_for", None)
            )
    return registry


REGISTRY: dict[str, NodeSpec] = _load()


def spec_for(node_type: str) -> NodeSpec | None:
    return REGISTRY.get(node_type)
