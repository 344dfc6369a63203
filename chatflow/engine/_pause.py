"""What a paused run keeps so `run_graph(resume_from=...)` can continue it later.

A pause is taken the way Dify's graph engine takes it: once a node asks to pause, nodes
already running finish, no new node starts, and the nodes that would have started are
remembered. The saved state is plain JSON: the variable pool (node outputs, `sys.*`,
`conversation.*`; never `env.*`, which the caller supplies again), the scheduler's edge
counts, the nodes to start on resume, the forms still waiting, and the order in which
nodes finished or were skipped. The answer coordinator is rebuilt on resume by replaying
that order with its output muted, so text already sent is not sent twice.

`snapshot` / `restore` save and load a top-level `ScopeRun`; `paused_events` ends a
paused run's event stream the way Dify does (`human_input_required` + `workflow_paused`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chatflow.engine.answer_stream import AnswerStream
from chatflow.engine.events import Event, HumanInputRequired, RunPaused
from chatflow.engine.files import File
from chatflow.engine.graph import Graph, Scope
from chatflow.engine.variables import CONVERSATION, ENVIRONMENT, SYSTEM, VariablePool
from chatflow.providers.base import Usage

if TYPE_CHECKING:
    from chatflow.engine._scope_run import ScopeRun

STATE_VERSION = 1
_FILE_KEY = "__chatflow_file__"
_DICT_KEY = "__chatflow_dict__"  # a user mapping that looks like a tag, kept as data
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
    """A pool value as JSON-compatible data (files tagged so they come back as files).

    A plain mapping shaped like a tag (user JSON such as `{"__chatflow_file__": {...}}`)
    is wrapped, so that a resume gives back the same dict and never a forged `File`."""
    if isinstance(value, File):
        return {_FILE_KEY: dataclasses.asdict(value)}
    if isinstance(value, Mapping):
        encoded = {str(k): encode(v) for k, v in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in (_FILE_KEY, _DICT_KEY):
            return {_DICT_KEY: encoded}
        return encoded
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if _FILE_KEY in value and len(value) == 1:
            return File(**value[_FILE_KEY])
        if _DICT_KEY in value and len(value) == 1:
            return {k: decode(v) for k, v in value[_DICT_KEY].items()}
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


def snapshot(
    run: ScopeRun, run_id: str, started: float, inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """The paused top-level run as JSON-compatible data."""
    assert isinstance(run.stream, JournaledStream)
    return {
        "version": STATE_VERSION,
        "run_id": run_id,
        "started_at": started,
        "inputs": encode(inputs),
        "pool": pool_state(run.pool, [SYSTEM, CONVERSATION, *run.graph.nodes]),
        "pending": dict(run.edges.pending),
        "taken": dict(run.edges.taken),
        "journal": [list(entry) for entry in run.stream.journal],
        "deferred": [list(entry) for entry in run.deferred],
        "waiting": {n: form_state(form) for n, form in run.waiting.items()},
        "steps": run.steps,
        "budget_used": run.budget.used,
        "exceptions": run.exceptions,
        "outputs": encode(run.outputs),
        "usage": usage_state(run.usage),
    }


def restore(
    run: ScopeRun,
    state: Mapping[str, Any],
    resume: Mapping[str, Any],
    emit: Callable[[Event], None],
) -> list[tuple[str, str | None]]:
    """Load a snapshot into a fresh top-level run; returns the (node, predecessor) chains
    to start. Paused nodes without a resume input stay paused and are not re-run."""
    check_version(state)
    waiting = {n: form_from_state(data) for n, data in state["waiting"].items()}
    unknown = sorted(set(resume) - set(waiting))
    if unknown:
        raise ValueError(f"node {unknown[0]} is not waiting for input in this run")
    restore_pool(run.pool, state["pool"])
    run.edges.pending.update(state["pending"])
    run.edges.taken = dict(state["taken"])
    run.steps = int(state["steps"])
    # Snapshots taken before the run-wide budget existed counted top-level steps only.
    run.budget.used = int(state.get("budget_used", run.steps))
    run.exceptions = int(state["exceptions"])
    run.outputs = decode(state["outputs"])
    run.usage = usage_from_state(state["usage"])
    stream = JournaledStream(run.graph, run.scope, run.pool, emit)
    stream.replay(state["journal"], emit)
    run.stream = stream
    run.resume = dict(resume)
    entries: list[tuple[str, str | None]] = []
    for node_id, predecessor in state["deferred"]:
        if node_id in waiting and node_id not in resume:
            run.deferred.append((node_id, predecessor))
            run.waiting[node_id] = waiting[node_id]
        else:
            entries.append((node_id, predecessor))
    return entries


def paused_events(
    run: ScopeRun, run_id: str, started: float, inputs: Mapping[str, Any]
) -> list[Event]:
    """How a paused run ends: the waiting forms (held back until now, as Dify sends them
    together with `workflow_paused`), then `RunPaused` carrying the saved state."""
    forms = list(run.waiting.values())
    usage = run.usage
    paused = RunPaused(
        reasons=[form.reason() for form in forms],
        outputs=dict(run.outputs), run_id=run_id, paused_nodes=list(run.waiting),
        started_at=started, paused_at=time.time(),
        total_tokens=usage.total_tokens if usage else 0, total_steps=run.steps,
        usage=usage, state=snapshot(run, run_id, started, inputs), forms=forms,
    )  # fmt: skip
    return [*forms, paused]
