"""Edge bookkeeping for one pass through one scope: which nodes are ready to run.

Dify's traversal rules: a node runs once all its incoming edges are resolved and at least
one was taken; a selective node (if-else, classifier, a node whose error took the fail
branch) takes only the edges whose `sourceHandle` matches its result's handle and skips
the rest, and a node whose incoming edges are all skipped is skipped in turn, along with
its own outgoing edges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chatflow.engine.graph import DEFAULT_HANDLE, GraphNode


class Edges:
    """Unresolved and taken incoming edges per node (plain dicts: a paused run saves them)."""

    __slots__ = ("nodes", "pending", "taken")

    def __init__(self, nodes: Mapping[str, GraphNode], in_count: Mapping[str, int]) -> None:
        self.nodes = nodes
        self.pending = dict(in_count)
        self.taken: dict[str, int] = {}

    def resolve(
        self, node: GraphNode, handle: str | None, on_skipped: Callable[[str], None]
    ) -> list[str]:
        """Mark the node's outgoing edges taken or skipped; return the nodes now ready.

        `on_skipped` hears of every node skipped as a result (the answer coordinator).
        """
        ready: list[str] = []
        # Plain nodes take every edge; selective ones only those matching their handle.
        selective = handle is not None or node.selective
        handle = handle or DEFAULT_HANDLE
        pending, taken = self.pending, self.taken
        skipped = []
        for edge in node.outgoing:
            target = edge.target
            if selective and edge.handle != handle:
                skipped.append(target)
                continue
            taken[target] = taken.get(target, 0) + 1
            pending[target] -= 1
            if pending[target] == 0:
                ready.append(target)
        for target in skipped:
            self._skip(target, ready, on_skipped)
        return ready

    def _skip(self, target: str, ready: list[str], on_skipped: Callable[[str], None]) -> None:
        stack = [target]
        pending, taken, nodes = self.pending, self.taken, self.nodes
        while stack:
            node_id = stack.pop()
            pending[node_id] -= 1
            if pending[node_id]:
                continue
            if taken.get(node_id):
                ready.append(node_id)
                continue
            on_skipped(node_id)
            stack.extend(edge.target for edge in nodes[node_id].outgoing)
