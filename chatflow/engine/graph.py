"""The executable graph: typed nodes, handle-labelled edges and the scopes they run in.

A graph has one top-level scope, entered at its single `start` node, and one scope per
container node (iteration, loop), entered at the container's `start_node_id`. Edges never
cross scopes. `Graph.build` checks the structure and precomputes, per scope, what the
runner needs on its hot path (incoming-edge counts, topological order, answer/end nodes),
so a run does no graph analysis of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatflow.engine.nodes.base import InstantRun, NodeConfig, NodeRun, StreamingRun, node_kind
from chatflow.errors import DSLError

DEFAULT_HANDLE = "source"
FAIL_BRANCH_HANDLE = "fail-branch"

# Node types whose outgoing edges depend on the handle their result picks.
BRANCH_TYPES = frozenset(("if-else", "question-classifier", "human-input"))
CONTAINER_TYPES = frozenset(("iteration", "loop"))
# Dify's "response" nodes: their text streams through the answer coordinator.
RESPONSE_TYPES = frozenset(("answer", "end"))


@dataclass(slots=True, eq=False)
class Edge:
    id: str
    source: str
    target: str
    handle: str = DEFAULT_HANDLE


@dataclass(slots=True, eq=False)
class GraphNode:
    """One node: its validated config, its run coroutine and its place in the graph."""

    id: str
    type: str
    config: NodeConfig
    run: NodeRun
    # The container (iteration/loop) this node belongs to; None at the top level.
    container: str | None = None
    # Where a container node's subgraph starts.
    start_node_id: str | None = None
    # Variables this node writes (assigner), so answers that show them wait for it.
    writes: frozenset[tuple[str, ...]] = frozenset()
    incoming: list[Edge] = field(default_factory=list)
    outgoing: list[Edge] = field(default_factory=list)

    # Only the edges matching the result's handle are taken (branch types, fail-branch
    # error strategy, or any outgoing edge with a handle other than "source").
    selective: bool = False
    # `run` by kind (`nodes/base.node_kind`): exactly one of the two is set.
    instant: InstantRun | None = field(init=False, default=None)
    streaming: StreamingRun | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.instant, self.streaming = node_kind(self.run)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "run" and hasattr(self, "streaming"):  # a node given another run
            self.instant, self.streaming = node_kind(value)

    @property
    def title(self) -> str:
        return self.config.title or self.id


@dataclass(frozen=True, slots=True)
class Scope:
    """The nodes one run (top level or one container pass) can reach from its entry."""

    root_id: str
    members: frozenset[str]
    # Incoming edges from members only: edges from unreachable nodes never resolve.
    in_count: Mapping[str, int]
    order: tuple[str, ...]  # topological, ties broken by DSL order
    responses: tuple[str, ...]  # answer/end nodes, in `order`
    # No node can ready two successors at once (no fan-out: at most one outgoing edge
    # per handle), so one pass never has two nodes running: the runner may drive it
    # in the caller's task instead of a task group.
    sequential: bool = False


@dataclass(frozen=True, slots=True)
class Graph:
    mode: str  # "advanced-chat" or "workflow" ("chat" apps are converted to advanced-chat)
    nodes: Mapping[str, GraphNode]
    root_id: str
    scopes: Mapping[str, Scope]  # keyed by entry node id
    # Per-graph analysis results other engine modules derive once and reuse across runs.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def root(self) -> Scope:
        return self.scopes[self.root_id]

    def scope(self, start_node_id: str) -> Scope:
        try:
            return self.scopes[start_node_id]
        except KeyError:
            raise DSLError(f"no subgraph starts at node {start_node_id}") from None

    @classmethod
    def build(cls, nodes: Iterable[GraphNode], edges: Iterable[Edge], *, mode: str) -> Graph:
        """Link and validate: one top-level start, edges between existing nodes of one
        scope, every container entered at one of its own children, no cycles."""
        by_id: dict[str, GraphNode] = {}
        for node in nodes:
            if node.id in by_id:
                raise DSLError(f"node {node.id} ({node.type}): duplicate node id")
            by_id[node.id] = node
        for edge in edges:
            for end, node_id in (("source", edge.source), ("target", edge.target)):
                if node_id not in by_id:
                    raise DSLError(f"edge {edge.id}: {end} node {node_id} does not exist")
            source, target = by_id[edge.source], by_id[edge.target]
            if source.container != target.container:
                raise DSLError(
                    f"edge {edge.id}: connects node {source.id} and node {target.id} "
                    "across a container boundary"
                )
            source.outgoing.append(edge)
            target.incoming.append(edge)

        for node in by_id.values():
            node.selective = (
                node.type in BRANCH_TYPES
                or node.config.error_strategy == "fail-branch"
                or any(edge.handle != DEFAULT_HANDLE for edge in node.outgoing)
            )
        starts = [n.id for n in by_id.values() if n.type == "start" and n.container is None]
        if len(starts) != 1:
            raise DSLError(f"the graph needs exactly one start node, found {len(starts)}")
        scopes = {starts[0]: _scope(by_id, starts[0])}
        for node in by_id.values():
            if node.type not in CONTAINER_TYPES:
                continue
            entry = node.start_node_id
            if not entry or entry not in by_id or by_id[entry].container != node.id:
                raise DSLError(
                    f"node {node.id} ({node.type}): start_node_id: "
                    f"{entry!r} is not a node inside this {node.type}"
                )
            scopes[entry] = _scope(by_id, entry)
        return cls(mode=mode, nodes=by_id, root_id=starts[0], scopes=scopes)


def _scope(nodes: Mapping[str, GraphNode], root_id: str) -> Scope:
    members: set[str] = set()
    stack = [root_id]
    while stack:
        node_id = stack.pop()
        if node_id in members:
            continue
        members.add(node_id)
        stack.extend(edge.target for edge in nodes[node_id].outgoing)
    in_count = {
        node_id: sum(1 for edge in nodes[node_id].incoming if edge.source in members)
        for node_id in members
    }
    if in_count[root_id]:
        raise DSLError(f"node {root_id} ({nodes[root_id].type}): an entry node has incoming edges")
    # Kahn's algorithm in DSL order: a deterministic order, and it finds cycles.
    position = {node_id: index for index, node_id in enumerate(nodes)}
    remaining = dict(in_count)
    ready = [root_id]
    order: list[str] = []
    while ready:
        node_id = ready.pop(0)
        order.append(node_id)
        for edge in nodes[node_id].outgoing:
            remaining[edge.target] -= 1
            if remaining[edge.target] == 0:
                ready.append(edge.target)
        ready.sort(key=position.__getitem__)
    if len(order) != len(members):
        cyclic = sorted(set(members) - set(order), key=position.__getitem__)
        raise DSLError(
            f"node {cyclic[0]} ({nodes[cyclic[0]].type}): the graph has a cycle; "
            "repeat work with a loop or iteration node"
        )
    responses = tuple(n for n in order if nodes[n].type in RESPONSE_TYPES)
    sequential = all(
        len({edge.handle for edge in nodes[n].outgoing}) == len(nodes[n].outgoing) for n in members
    )
    return Scope(root_id, frozenset(members), in_count, tuple(order), responses, sequential)


__all__ = [
    "BRANCH_TYPES",
    "CONTAINER_TYPES",
    "DEFAULT_HANDLE",
    "FAIL_BRANCH_HANDLE",
    "RESPONSE_TYPES",
    "Edge",
    "Graph",
    "GraphNode",
    "Scope",
]
