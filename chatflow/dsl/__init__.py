"""Dify DSL import: `load_app(text)` parses and validates a DSL file into an `AppDSL`;
`to_graph(app)` gives its executable `Graph` (chat apps become start -> llm -> answer)."""

from chatflow.dsl.loader import graph_from_dicts, load_app, to_graph
from chatflow.dsl.models import (
    AppDSL,
    AppInfo,
    ConversationVariable,
    EnvironmentVariable,
    Features,
    ModelConfig,
    WorkflowSpec,
)
from chatflow.errors import DSLError

__all__ = [
    "AppDSL",
    "AppInfo",
    "ConversationVariable",
    "DSLError",
    "EnvironmentVariable",
    "Features",
    "ModelConfig",
    "WorkflowSpec",
    "graph_from_dicts",
    "load_app",
    "to_graph",
]
