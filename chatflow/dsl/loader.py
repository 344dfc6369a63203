"""Load a Dify DSL file: YAML -> `AppDSL` -> validated executable `Graph`.

Every node's `data` is validated by its node module's `Config` at import time, so an
unknown node type or a bad field fails here, with a message naming the node id, its
type and the field (`node 1733… (llm): model.provider: field required`), not mid-run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from chatflow.dsl.chat import chat_graph
from chatflow.dsl.models import AppDSL
from chatflow.engine.graph import CONTAINER_TYPES, DEFAULT_HANDLE, Edge, Graph, GraphNode
from chatflow.engine.nodes import REGISTRY, NodeSpec
from chatflow.engine.nodes.base import NodeConfig
from chatflow.errors import DSLError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_GRAPH_MODES = ("advanced-chat", "workflow")


def load_app(text: str) -> AppDSL:
    """Parse and validate a DSL document; raises `DSLError` with a precise message."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a C-accelerated *safe* loader
    except yaml.YAMLError as exc:
        raise DSLError(f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise DSLError("invalid DSL: the document must be a mapping with an `app` key")
    if data.get("kind", "app") != "app":
        raise DSLError(f"invalid DSL: kind {data.get('kind')!r} is not 'app'")
    if "version" in data:
        data["version"] = str(data["version"])
    try:
        app = AppDSL.model_validate(data)
    except ValidationError as exc:
        raise DSLError(_describe(exc, prefix="")) from None

    app._graph = _build_graph(app)
    return app


def to_graph(app: AppDSL) -> Graph:
    """The app's executable graph (built and validated once, by `load_app`)."""
    if app._graph is None:
        app._graph = _build_graph(app)
    return app._graph


def _build_graph(app: AppDSL) -> Graph:
    if app.mode in _GRAPH_MODES:
        if app.workflow is None:
            raise DSLError(f"{app.mode} app: workflow: field required")
        graph = app.workflow.graph
        return graph_from_dicts(graph.get("nodes") or [], graph.get("edges") or [], mode=app.mode)
    if app.mode in ("chat", "agent-chat"):
        if app.model_config_ is None:
            raise DSLError(f"{app.mode} app: model_config: field required")
        nodes, edges = chat_graph(app.model_config_, agent=app.mode == "agent-chat")
        return graph_from_dicts(nodes, edges, mode="advanced-chat")
    raise DSLError(f"app mode {app.mode!r} is not supported; use chat or advanced-chat")


def graph_from_dicts(
    nodes: Iterable[Mapping[str, Any]],
    edges: Iterable[Mapping[str, Any]],
    *,
    mode: str = "advanced-chat",
    registry: Mapping[str, NodeSpec] = REGISTRY,
) -> Graph:
    """Build a graph from Dify-shaped node and edge dicts (`workflow.graph`)."""
    graph_nodes: list[GraphNode] = []
    notes: set[str] = set()
    for raw in nodes:
        node_id = str(raw.get("id", ""))
        data = raw.get("data") or {}
        if raw.get("type") == "custom-note":
            notes.add(node_id)  # a canvas note, not part of the flow
            continue
        graph_nodes.append(_node(node_id, raw, data, registry))
    graph_edges = [
        _edge(raw)
        for raw in edges
        if str(raw.get("source")) not in notes and str(raw.get("target")) not in notes
    ]
    return Graph.build(graph_nodes, graph_edges, mode=mode)


def _node(
    node_id: str, raw: Mapping[str, Any], data: Mapping[str, Any], registry: Mapping[str, NodeSpec]
) -> GraphNode:
    node_type = data.get("type")
    if not node_id:
        raise DSLError(f"node of type {node_type!r}: id: field required")
    if not isinstance(node_type, str) or not node_type:
        raise DSLError(f"node {node_id}: data.type: field required")
    spec = registry.get(node_type)
    if spec is None:
        raise DSLError(f"node {node_id} ({node_type}): unsupported node type {node_type!r}")
    try:
        config_type: type[NodeConfig] = spec.config
        config = config_type.model_validate(_without_nulls(data))
    except ValidationError as exc:
        raise DSLError(_describe(exc, prefix=f"node {node_id} ({node_type}): ")) from None
    container = raw.get("parentId")
    if not container and data.get("isInIteration"):
        container = data.get("iteration_id")
    if not container and data.get("isInLoop"):
        container = data.get("loop_id")
    start = data.get("start_node_id") if node_type in CONTAINER_TYPES else None
    return GraphNode(
        id=node_id,
        type=node_type,
        config=config,
        run=spec.run_of(config),
        container=str(container) if container else None,
        start_node_id=str(start) if start else None,
        writes=_writes(node_type, data),
    )


def _without_nulls(value: Any) -> Any:
    """`data` with every `key: null` removed, at any depth, so the field's default applies.

    Exports from some Dify versions write `null` for unset fields (`options: null`,
    `retry_config: null`, `vision: null`); Dify's own models read those as their
    defaults. A required field left null still fails, as missing. Lists keep their
    items (a `null` inside a selector stays an error).
    """
    if isinstance(value, Mapping):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _writes(node_type: str, data: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
    """Variables an assigner writes (v1 `assigned_variable_selector`, v2 `items`)."""
    if node_type != "assigner":
        return frozenset()
    selectors = [data.get("assigned_variable_selector")]
    selectors += [item.get("variable_selector") for item in data.get("items") or []]
    return frozenset(tuple(map(str, s)) for s in selectors if isinstance(s, list) and s)


def _edge(raw: Mapping[str, Any]) -> Edge:
    source, target = str(raw.get("source", "")), str(raw.get("target", ""))
    handle = str(raw.get("sourceHandle") or DEFAULT_HANDLE)
    edge_id = str(raw.get("id") or f"{source}-{handle}-{target}")
    return Edge(edge_id, source, target, handle)


def _describe(exc: ValidationError, *, prefix: str) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"]) or "(root)"
    message = error["msg"]
    message = message[:1].lower() + message[1:]
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return f"{prefix}{location}: {message}{suffix}"
