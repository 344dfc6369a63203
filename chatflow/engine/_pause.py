"""What a paused run keeps so `run_graph(resume_from=...)` can continue it later.

A pause is taken the way Dify's graph engine takes it: once a node asks to pause, nodes
already running finish, no new node starts, and the nodes that would have started are
remembered. The saved state is plain JSON: the variable pool (node outputs, `sys.*`,
`conversation.*`; never `env.*`, which the caller supplies again), the scheduler's edge
counts, the nodes to start on resume, the forms still waiting, and the order in which
nodes finished or were skipped. The answer coordinator is rebuilt on resume by replaying
that order with its output muted, so text already sent is not sent twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from chatflow.engine.answer_stream import AnswerStream
from chatflow.engine.events import Event, HumanInputRequired
from chatflow.engine.files import File
from chatflow.engine.graph import Graph, Scope
from chatflow.engine.variables import ENVIRONMENT, VariablePool
from chatflow.providers.base import Usage

STATE_VERSION = 1
_FILE_KEY = "__chatflow_file__"
_USAGE_PRICES = tuple(f.name for f in dataclasses.fields(Usage) if f.type in ("Decimal", Decimal))


def has_pause_points(graph: Graph) -> bool:
    """Whether any node can pause the run (memoised per graph)."""
    found = graph.memo.get("pause-points")
    if found is None:
        found = graph.memo["pause-points"] = any(
            node.type == "human-input" for node in graph.nodes.values()
        )
    return bool(found)


class JournaledStream(AnswerStream):
    """The answer coordinator, recording which nodes finished or were skipped, in order."""

    __slots__ = ("journal",)

    def __init__(
        self, graph: Graph, scope: Scope, pool: VariablePool, emit: Callable[[Event], None]
    ) -> None:
        super().__init__(graph, scope, pool, emit)
        self.journal: list[list[Any]] = []

    def on_finished(self, node_id: str, handle: str | None) -> None:
        self.journal.append([node_id, handle, True])
        super().on_finished(node_id, handle)

    def on_skipped(self, node_id: str) -> None:
        self.journal.append([node_id, None, False])
        super().on_skipped(node_id)

    def replay(self, journal: Sequence[Sequence[Any]], emit: Callable[[Event], None]) -> None:
        """Bring a fresh coordinator to where a paused run left it, emitting nothing,
        then send its later text to `emit`."""
        self._emit = lambda event: None
        self.start()
        for node_id, handle, finished in journal:
            if finished:
                self.on_finished(node_id, handle)
            else:
                self.on_skipped(node_id)
        self._emit = emit


def encode(value: Any) -> Any:
    """A pool value as JSON-compatible data (files tagged so they come back as files)."""
    if isinstance(value, File):
        return {_FILE_KEY: dataclasses.asdict(value)}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if _FILE_KEY in value and len(value) == 1:
            return File(**value[_FILE_KEY])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def pool_state(pool: VariablePool, node_ids: Sequence[str]) -> dict[str, Any]:
    """Every scope of the pool but `env`, encoded."""
    scopes: dict[str, Any] = {}
    for node_id in node_ids:
        if node_id != ENVIRONMENT:
            outputs = pool.node_outputs(node_id)
            if outputs:
                scopes[node_id] = encode(dict(outputs))
    return scopes


def restore_pool(pool: VariablePool, scopes: Mapping[str, Any]) -> None:
    for node_id, outputs in scopes.items():
        pool.set_outputs(node_id, decode(outputs))


def usage_state(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return encode(dataclasses.asdict(usage))  # type: ignore[no-any-return]


def usage_from_state(data: Mapping[str, Any] | None) -> Usage | None:
    if data is None:
        return None
    values = dict(data)
    for name in _USAGE_PRICES:
        if name in values:
            values[name] = Decimal(str(values[name]))
    return Usage(**values)


def form_state(form: HumanInputRequired) -> dict[str, Any]:
    return encode(dataclasses.asdict(form))  # type: ignore[no-any-return]


def form_from_state(data: Mapping[str, Any]) -> HumanInputRequired:
    return HumanInputRequired(**decode(dict(data)))


def check_version(state: Mapping[str, Any]) -> None:
    version = state.get("version")
    if version != STATE_VERSION:
        raise ValueError(f"unsupported paused-run state version: {version!r}")
