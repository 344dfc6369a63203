"""The engine's entry point: `run_graph` runs a graph and yields its events.

One asyncio TaskGroup per run, no threads. The scheduler (`_scope_run.ScopeRun`) walks
the graph by Dify's traversal rules, applies `retry_config` and `error_strategy`, feeds
streamed text to the answer coordinator and runs container passes (`run_subgraph`);
a paused run's state is `ScopeRun.snapshot` / `restore` (encoded by `_pause.py`). This
module starts a run, hands its events to the caller and ends it with Dify's
`workflow_finished` facts, or, when it paused, `human_input_required` + `workflow_paused`.

Stopping a run is cancelling the task that iterates `run_graph` (or closing the
generator): the run's tasks, and any model stream they hold, are cancelled.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any
from uuid import uuid4

from chatflow.engine import _pause
from chatflow.engine._channel import Channel, drain
from chatflow.engine._scope_run import ScopeRun, run_subgraph
from chatflow.engine._step import StepBudget, retries
from chatflow.engine.answer_stream import JournaledStream
from chatflow.engine.events import (
    ContainerScope,
    Event,
    HumanInputRequired,
    RunFinished,
    RunPaused,
    RunStarted,
    RunStatus,
)
from chatflow.engine.graph import Graph
from chatflow.engine.nodes.base import EngineServices, Turn
from chatflow.engine.variables import SYSTEM, VariablePool

__all__ = ["run_graph", "run_subgraph"]

_TOP = ContainerScope()


async def run_graph(
    graph: Graph,
    *,
    pool: VariablePool,
    services: EngineServices,
    history: Sequence[Turn] = (),
    run_id: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    resume_from: Mapping[str, Any] | None = None,
    resume_input: Mapping[str, Any] | None = None,
) -> AsyncIterator[Event]:
    """Run a graph: RunStarted, node and text events, then RunFinished.

    `inputs` are the start node's input variables (they may instead be put in the pool
    under the start node's id beforehand). Consume with `contextlib.aclosing` or from a
    task you cancel: leaving the loop early stops the run.

    A run that reaches a human-input node ends instead with its `HumanInputRequired`
    event(s) and `RunPaused`, as Dify's `human_input_required` + `workflow_paused`.
    Passing `RunPaused.state` back as `resume_from` (same graph; a fresh pool holding
    `env.*`) continues the run with `RunStarted(reason="resumption")`; `resume_input`
    maps paused node ids to what they resume with (`human_input.FormSubmission` or
    `FormTimeout`). Paused nodes given nothing stay paused.
    """
    if inputs is not None:
        pool.set_outputs(graph.root_id, inputs)
    channel = Channel()
    emitted: list[Event] = []
    # A run whose nodes never await (all instant, none retried) runs in this task: no
    # driver task, channel or task group (see `ScopeRun.drive_now`); a resumed one
    # restarts several chains at once and keeps the task group.
    now = resume_from is None and _runs_now(graph)
    run = ScopeRun(
        graph, graph.root, pool=pool, services=services, history=history,
        emit=emitted.append if now else channel.emit, container=_TOP,
        budget=StepBudget(services.limits.max_steps),
    )  # fmt: skip
    entries: list[tuple[str, str | None]] | None = None
    if resume_from is not None:
        _pause.check_version(resume_from)
        entries = run.restore(resume_from, resume_input or {})
        run_id, started = str(resume_from["run_id"]), float(resume_from["started_at"])
        run_inputs = _pause.decode(resume_from["inputs"])
        yield RunStarted(run_id, run_inputs, time.time(), reason="resumption")
    else:
        run_id, started = run_id or str(uuid4()), time.time()
        run_inputs = _run_inputs(graph, pool)
        yield RunStarted(run_id, run_inputs, started)
        if _has_pause_points(graph):
            run.journal_answers()

    pausable = isinstance(run.stream, JournaledStream)
    if now:
        run.drive_now()
        for event in _shown(run, emitted, pausable):
            yield event
    else:
        limit = services.limits.max_run_seconds
        async with aclosing(drain(run.drive(limit, entries), channel)) as batches:
            async for batch in batches:
                for event in _shown(run, batch, pausable):
                    yield event

    if run.waiting and run.error is None:
        for event in _paused(run, run_id, started, run_inputs):
            yield event
        return
    yield _finished(run, run_id, started)


def _shown(run: ScopeRun, events: list[Event], pausable: bool) -> Iterator[Event]:
    """`events` as the caller sees them: on a pausable run a node's form request is
    kept for the `RunPaused` event instead."""
    for event in events:
        if pausable and type(event) is HumanInputRequired:
            run.waiting[event.node_id] = event  # sent with RunPaused, below
            continue
        yield event


def _runs_now(graph: Graph) -> bool:
    """Whether the top level's nodes never await (see `ScopeRun.runs_now`). Not
    memoised: a node's run may be swapped after the graph is built."""
    nodes = graph.nodes
    for node_id in graph.root.order:
        node = nodes[node_id]
        if node.instant is None or retries(node):
            return False
    return True


def _has_pause_points(graph: Graph) -> bool:
    """Whether any node can pause the run (memoised per graph)."""
    found = graph.memo.get("pause-points")
    if found is None:
        found = graph.memo["pause-points"] = any(
            node.type == "human-input" for node in graph.nodes.values()
        )
    return bool(found)


def _paused(run: ScopeRun, run_id: str, started: float, inputs: Mapping[str, Any]) -> list[Event]:
    """How a paused run ends: the waiting forms (held back until now, as Dify sends them
    together with `workflow_paused`), then `RunPaused` carrying the saved state."""
    forms = list(run.waiting.values())
    usage = run.usage
    state = {
        "version": _pause.STATE_VERSION,
        "run_id": run_id,
        "started_at": started,
        "inputs": _pause.encode(inputs),
        **run.snapshot(),
    }
    paused = RunPaused(
        reasons=[form.reason() for form in forms],
        outputs=dict(run.outputs), run_id=run_id, paused_nodes=list(run.waiting),
        started_at=started, paused_at=time.time(),
        total_tokens=usage.total_tokens if usage else 0, total_steps=run.steps,
        usage=usage, state=state, forms=forms,
    )  # fmt: skip
    return [*forms, paused]


def _run_inputs(graph: Graph, pool: VariablePool) -> dict[str, Any]:
    """Dify's `workflow_started.inputs`: the start node's inputs plus `sys.*` values."""
    system = {f"sys.{key}": value for key, value in pool.node_outputs(SYSTEM).items()}
    return {**pool.node_outputs(graph.root_id), **system}


def _finished(run: ScopeRun, run_id: str, started: float) -> RunFinished:
    """Dify's `workflow_finished`: `failed` when a failure ended the run (outputs
    dropped), `partial-succeeded` when a node's error strategy handled a failure, else
    `succeeded`. Failures inside iteration/loop passes do not count here: Dify keeps
    those in the pass's own child engine."""
    status: RunStatus = "succeeded"
    error = run.error.message if run.error else None
    if error is not None:
        status = "failed"
    elif run.exceptions:
        status = "partial-succeeded"
    usage = run.usage
    return RunFinished(
        run_id=run_id, status=status, outputs=run.outputs if error is None else {},
        error=error, started_at=started, finished_at=time.time(),
        total_tokens=usage.total_tokens if usage else 0, total_steps=run.steps,
        exceptions_count=run.exceptions, usage=usage,
    )  # fmt: skip
