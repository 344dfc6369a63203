"""The async graph runner: one asyncio TaskGroup per run, no threads.

Dify's traversal rules: a node runs once all its incoming edges are resolved and at
least one was taken; a selective node (if-else, classifier, a node whose error took the
fail branch) takes only the edges whose `sourceHandle` matches its result's handle and
skips the rest, and a node whose incoming edges are all skipped is skipped in turn.
Independent branches run as concurrent tasks; a chain continues in the task that ran its
predecessor, which keeps per-node overhead to a few function calls.

The runner, not the nodes, applies `retry_config` and `error_strategy`, enforces the
step and time limits, feeds streamed text to the answer coordinator and runs container
subgraphs (`NodeContext.run_subgraph`). Stopping a run is cancelling the task that
iterates `run_graph`: the run's tasks, and any model stream they hold, are cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any
from uuid import uuid4

from chatflow.engine import _pause
from chatflow.engine._channel import Channel, drain
from chatflow.engine._step import (
    Abort,
    Step,
    checked,
    default_value,
    execution_id,
    message,
    take,
)
from chatflow.engine.answer_stream import answer_stream
from chatflow.engine.events import (
    ContainerScope,
    Event,
    HumanInputRequired,
    RunFinished,
    RunPaused,
    RunStarted,
    RunStatus,
)
from chatflow.engine.graph import (
    DEFAULT_HANDLE,
    FAIL_BRANCH_HANDLE,
    RESPONSE_TYPES,
    Graph,
    GraphNode,
    Scope,
)
from chatflow.engine.nodes.base import (
    EngineServices,
    NodeContext,
    NodeResult,
    StreamChunk,
    Turn,
)
from chatflow.engine.variables import CONVERSATION, SYSTEM, VariablePool
from chatflow.errors import NodeError
from chatflow.providers.base import Usage

_TOP = ContainerScope()


class _Run:
    """State of one pass through one scope: the top-level graph or a container's body."""

    def __init__(
        self,
        graph: Graph,
        scope: Scope,
        *,
        pool: VariablePool,
        services: EngineServices,
        history: Sequence[Turn],
        emit: Callable[[Event], None],
        container: ContainerScope,
    ) -> None:
        self.graph = graph
        self.scope = scope
        self.pool = pool
        self.services = services
        self.history = history
        self.emit = emit
        self.container = container
        self.pending = dict(scope.in_count)  # unresolved incoming edges per node
        self.taken: dict[str, int] = {}  # taken incoming edges per node
        self.stream = answer_stream(graph, scope, pool, emit)
        self.steps = 0
        self.exceptions = 0
        self.usage: Usage | None = None
        self.outputs: dict[str, Any] = {}
        self.error: Abort | None = None
        self._group: asyncio.TaskGroup | None = None
        # Pausing (human-input): forms waiting, nodes to start on resume, resume inputs.
        self.pausing = False
        self.waiting: dict[str, HumanInputRequired] = {}
        self.deferred: list[tuple[str, str | None]] = []
        self.resume: dict[str, Any] = {}

    async def drive(
        self,
        time_limit: float | None = None,
        entries: Sequence[tuple[str, str | None]] | None = None,
    ) -> None:
        """Run the scope to completion; failures end up in `self.error`, never raised.

        `entries` (node, predecessor) restart a resumed run, whose answer coordinator
        the caller has already brought up to date.
        """
        began = time.monotonic()
        if entries is None:
            self.stream.start()
        try:
            async with asyncio.timeout(time_limit), asyncio.TaskGroup() as group:
                self._group = group
                if entries is None:
                    # The entry chain runs in this task; only extra branches get tasks.
                    await self._chain(self.scope.root_id, None)
                for node_id, predecessor in entries or ():
                    group.create_task(self._chain(node_id, predecessor))
        except* Abort as failure:
            self.error = failure.exceptions[0]  # type: ignore[assignment]
        except* TimeoutError:
            elapsed = time.monotonic() - began
            self.error = Abort(f"Maximum execution time exceeded: {elapsed:.2f}s > {time_limit}s")
        except* Exception as failure:  # a runner bug: still end the run as failed
            first = failure.exceptions[0]
            self.error = Abort(f"internal error: {message(first)}", None, type(first).__name__)
        if self.error is None and not (self.pausing or self.waiting):
            self.stream.finish()

    async def drive_inline(self, buffer: list[Event]) -> AsyncGenerator[Event, None]:
        """Run a sequential scope (see `Scope.sequential`) in the caller's task.

        No task, channel or task group per pass: a container's pass through a chain
        costs a few calls. `self.emit` must append to `buffer`; what a node emits is
        handed on after each item the node yields, so streamed text keeps flowing.
        Ends by raising `NodeError` if the pass failed (see `raise_failure`).
        """
        queue = [self.scope.root_id]
        predecessor: str | None = None
        try:
            self.stream.start()
            while queue:
                node = self.graph.nodes[queue.pop(0)]
                step, ctx = self._begin(node, predecessor)
                on_chunk = self.stream.on_chunk
                attempt = 0
                while True:
                    result: NodeResult | None = None
                    try:
                        async with aclosing(node.run(ctx, node.config)) as items:
                            async for item in items:
                                kind = type(item)
                                if kind is StreamChunk:
                                    on_chunk(item.selector, item.text)
                                elif kind is NodeResult:
                                    result = item
                                else:
                                    self.emit(item)
                                if buffer:
                                    for event in take(buffer):
                                        yield event
                        ready = self._succeeded(step, checked(node, result))
                        break
                    except (asyncio.CancelledError, Abort):
                        raise
                    except Exception as exc:
                        if attempt >= self._retries(node):
                            ready = self._failed(step, exc)
                            break
                        attempt += 1
                        await self._retry(step, exc, attempt)
                for event in take(buffer):
                    yield event
                predecessor = node.id
                # A sequential scope readies at most one node at a time; should that
                # ever not hold, the extra nodes still run, one after another.
                queue.extend(ready)
        except Abort as failure:
            self.error = failure
        except Exception as failure:  # a runner bug: still end the pass as failed
            self.error = Abort(f"internal error: {message(failure)}", None, type(failure).__name__)
        if self.error is None and not self.pausing:
            self.stream.finish()
        for event in take(buffer):
            yield event
        self.raise_failure()

    def raise_failure(self) -> None:
        """End a container pass: a failure the scope did not handle fails the pass."""
        if self.error is not None:
            error = self.error
            raise NodeError(
                error.message, node_id=error.node_id, error_type=error.error_type or "NodeError"
            )

    # -- scheduling ---------------------------------------------------------------------

    async def _chain(self, node_id: str, predecessor: str | None) -> None:
        """Run a node, then continue with one ready successor in this task."""
        current: str | None = node_id
        while current is not None:
            ready = await self._execute(self.graph.nodes[current], predecessor)
            predecessor, current = current, None
            if self.pausing:  # Dify: once a pause is requested, no new node starts
                self.deferred.extend((successor, predecessor) for successor in ready)
                return
            for index, successor in enumerate(ready):
                if index == 0:
                    current = successor
                else:
                    assert self._group is not None
                    self._group.create_task(self._chain(successor, predecessor))

    def _resolve(self, node: GraphNode, handle: str | None) -> list[str]:
        """Mark the node's outgoing edges taken or skipped; return the nodes now ready."""
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
            self._skip_edge(target, ready)
        return ready

    def _skip_edge(self, target: str, ready: list[str]) -> None:
        stack = [target]
        pending, taken, nodes = self.pending, self.taken, self.graph.nodes
        while stack:
            node_id = stack.pop()
            pending[node_id] -= 1
            if pending[node_id]:
                continue
            if taken.get(node_id):
                ready.append(node_id)
                continue
            self.stream.on_skipped(node_id)
            stack.extend(edge.target for edge in nodes[node_id].outgoing)

    # -- one node -----------------------------------------------------------------------

    async def _execute(self, node: GraphNode, predecessor: str | None) -> list[str]:
        step, ctx = self._begin(node, predecessor)
        attempt = 0
        while True:
            try:
                result = await self._attempt(node, ctx)
                break
            except (asyncio.CancelledError, Abort):
                raise
            except Exception as exc:
                if attempt >= self._retries(node):
                    return self._failed(step, exc)
                attempt += 1
                await self._retry(step, exc, attempt)
        return self._succeeded(step, result)

    def _begin(self, node: GraphNode, predecessor: str | None) -> tuple[Step, NodeContext]:
        """Count the step, emit NodeStarted and build the node's context."""
        self.steps += 1
        limit = self.services.limits.max_steps
        if self.steps > limit:
            raise Abort(f"Maximum execution steps exceeded: {self.steps} > {limit}")
        step = Step(node, execution_id(), self.steps, predecessor, time.time(), self.container)
        self.emit(step.started_event())
        ctx = NodeContext(
            node.id, self.pool, self.services, self.history, self.container,
            self._run_subgraph, self.graph.mode, step.execution_id,
        )  # fmt: skip
        if self.resume:
            ctx.resume = self.resume.pop(node.id, None)
        return step, ctx

    @staticmethod
    def _retries(node: GraphNode) -> int:
        retry = node.config.retry_config
        return retry.max_retries if retry.retry_enabled else 0

    async def _retry(self, step: Step, exc: Exception, attempt: int) -> None:
        self.emit(step.retry_event(attempt, message(exc)))
        await asyncio.sleep(step.node.config.retry_config.retry_interval / 1000)

    def _succeeded(self, step: Step, result: NodeResult) -> list[str]:
        node = step.node
        if result.status == "paused":
            return self._paused(step)
        self.pool.set_outputs(node.id, result.outputs)
        if result.usage is not None:
            self.usage = result.usage if self.usage is None else self.usage.plus(result.usage)
        if node.type in RESPONSE_TYPES:
            self._merge_response(result.outputs)
        self.stream.on_finished(node.id, result.handle)
        self.emit(
            step.finished(
                result.status, outputs=result.outputs, inputs=result.inputs,
                process_data=result.process_data, usage=result.usage, handle=result.handle,
            )
        )  # fmt: skip
        return self._resolve(node, result.handle)

    def _paused(self, step: Step) -> list[str]:
        """A node asked to pause (its `HumanInputRequired` was just emitted): remember
        it as a node to re-run on resume; nothing downstream of it is decided yet."""
        self.pausing = True
        self.deferred.append((step.node.id, step.predecessor))
        return []

    async def _attempt(self, node: GraphNode, ctx: NodeContext) -> NodeResult:
        result: NodeResult | None = None
        on_chunk = self.stream.on_chunk
        async for item in node.run(ctx, node.config):
            kind = type(item)
            if kind is StreamChunk:
                on_chunk(item.selector, item.text)
            elif kind is NodeResult:
                result = item
            else:
                self.emit(item)  # a container's child events, agent logs, ...
        return checked(node, result)

    def _failed(self, step: Step, exc: Exception) -> list[str]:
        """Apply the node's error strategy, or end the run (Dify's error handler)."""
        node = step.node
        error = message(exc)
        error_type = exc.error_type if isinstance(exc, NodeError) else type(exc).__name__
        strategy = node.config.error_strategy
        if strategy is None:
            self.emit(step.finished("failed", outputs={}, error=error, error_type=error_type))
            raise Abort(error, node.id, error_type)
        outputs: dict[str, Any] = {}
        handle: str | None = None
        if strategy == "default-value":
            outputs = {value.key: default_value(value) for value in node.config.default_value}
        else:
            handle = FAIL_BRANCH_HANDLE
        outputs["error_message"] = error
        outputs["error_type"] = error_type
        self.pool.set_outputs(node.id, outputs)
        self.exceptions += 1
        self.stream.on_finished(node.id, handle)
        self.emit(
            step.finished(
                "exception", outputs=outputs, error=error, error_type=error_type,
                handle=handle,
            )
        )  # fmt: skip
        return self._resolve(node, handle)

    def _merge_response(self, outputs: Mapping[str, Any]) -> None:
        """Dify's run outputs: answers concatenate, other keys (end outputs) overwrite."""
        for key, value in outputs.items():
            if key == "answer" and self.outputs.get("answer"):
                self.outputs["answer"] = f"{self.outputs['answer']}{value}"
            else:
                self.outputs[key] = value

    # -- pause and resume (human-input) -------------------------------------------------

    def snapshot(self, run_id: str, started: float, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The paused run as JSON-compatible data (see `engine/_pause.py`)."""
        assert isinstance(self.stream, _pause.JournaledStream)
        return {
            "version": _pause.STATE_VERSION,
            "run_id": run_id,
            "started_at": started,
            "inputs": _pause.encode(inputs),
            "pool": _pause.pool_state(self.pool, [SYSTEM, CONVERSATION, *self.graph.nodes]),
            "pending": dict(self.pending),
            "taken": dict(self.taken),
            "journal": [list(entry) for entry in self.stream.journal],
            "deferred": [list(entry) for entry in self.deferred],
            "waiting": {n: _pause.form_state(form) for n, form in self.waiting.items()},
            "steps": self.steps,
            "exceptions": self.exceptions,
            "outputs": _pause.encode(self.outputs),
            "usage": _pause.usage_state(self.usage),
        }

    def restore(
        self, state: Mapping[str, Any], resume: Mapping[str, Any], emit: Callable[[Event], None]
    ) -> list[tuple[str, str | None]]:
        """Load a snapshot; returns the (node, predecessor) chains to start. Paused nodes
        without a resume input stay paused and are not re-run."""
        _pause.check_version(state)
        waiting = {n: _pause.form_from_state(data) for n, data in state["waiting"].items()}
        unknown = sorted(set(resume) - set(waiting))
        if unknown:
            raise ValueError(f"node {unknown[0]} is not waiting for input in this run")
        _pause.restore_pool(self.pool, state["pool"])
        self.pending.update(state["pending"])
        self.taken = dict(state["taken"])
        self.steps = int(state["steps"])
        self.exceptions = int(state["exceptions"])
        self.outputs = _pause.decode(state["outputs"])
        self.usage = _pause.usage_from_state(state["usage"])
        stream = _pause.JournaledStream(self.graph, self.scope, self.pool, emit)
        stream.replay(state["journal"], emit)
        self.stream = stream
        self.resume = dict(resume)
        entries: list[tuple[str, str | None]] = []
        for node_id, predecessor in state["deferred"]:
            if node_id in waiting and node_id not in resume:
                self.deferred.append((node_id, predecessor))
                self.waiting[node_id] = waiting[node_id]
            else:
                entries.append((node_id, predecessor))
        return entries

    def _run_subgraph(
        self, start_node_id: str, pool: VariablePool, scope: ContainerScope
    ) -> AsyncIterator[Event]:
        return run_subgraph(
            self.graph, start_node_id, pool=pool, services=self.services,
            history=self.history, scope=scope,
        )  # fmt: skip


def run_subgraph(
    graph: Graph,
    start_node_id: str,
    *,
    pool: VariablePool,
    services: EngineServices,
    history: Sequence[Turn] = (),
    scope: ContainerScope,
) -> AsyncIterator[Event]:
    """One pass through a container's body: its child events (stamped with `scope`);
    raises `NodeError` after them if a child failed with no error strategy."""
    body = graph.scope(start_node_id)
    if body.sequential:
        buffer: list[Event] = []
        run = _Run(
            graph, body, pool=pool, services=services, history=history, emit=buffer.append,
            container=scope,
        )  # fmt: skip
        return run.drive_inline(buffer)
    return _grouped_pass(graph, body, pool=pool, services=services, history=history, scope=scope)


async def _grouped_pass(
    graph: Graph,
    body: Scope,
    *,
    pool: VariablePool,
    services: EngineServices,
    history: Sequence[Turn],
    scope: ContainerScope,
) -> AsyncIterator[Event]:
    """A pass whose branches may run concurrently: a task group drained by a channel."""
    channel = Channel()
    run = _Run(
        graph, body, pool=pool, services=services, history=history, emit=channel.emit,
        container=scope,
    )  # fmt: skip
    async with aclosing(drain(run.drive(), channel)) as batches:
        async for batch in batches:
            for event in batch:
                yield event
    run.raise_failure()


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
    run = _Run(
        graph, graph.root, pool=pool, services=services, history=history,
        emit=channel.emit, container=_TOP,
    )  # fmt: skip
    entries: list[tuple[str, str | None]] | None = None
    if resume_from is not None:
        entries = run.restore(resume_from, resume_input or {}, channel.emit)
        run_id, started = str(resume_from["run_id"]), float(resume_from["started_at"])
        run_inputs = _pause.decode(resume_from["inputs"])
        yield RunStarted(run_id, run_inputs, time.time(), reason="resumption")
    else:
        run_id = run_id or str(uuid4())
        started = time.time()
        system = {f"sys.{key}": value for key, value in pool.node_outputs(SYSTEM).items()}
        run_inputs = {**pool.node_outputs(graph.root_id), **system}
        yield RunStarted(run_id, run_inputs, started)
        if _pause.has_pause_points(graph):
            run.stream = _pause.JournaledStream(graph, graph.root, pool, channel.emit)

    pausable = isinstance(run.stream, _pause.JournaledStream)
    limit = services.limits.max_run_seconds
    async with aclosing(drain(run.drive(limit, entries), channel)) as batches:
        async for batch in batches:
            for event in batch:
                if pausable and type(event) is HumanInputRequired:
                    # Held back: Dify sends the forms together with `workflow_paused`.
                    run.waiting[event.node_id] = event
                    continue
                yield event

    if run.waiting and run.error is None:
        for form in run.waiting.values():
            yield form
        usage = run.usage
        yield RunPaused(
            reasons=[form.reason() for form in run.waiting.values()],
            outputs=dict(run.outputs), run_id=run_id, paused_nodes=list(run.waiting),
            started_at=started, paused_at=time.time(),
            total_tokens=usage.total_tokens if usage else 0, total_steps=run.steps,
            usage=usage, state=run.snapshot(run_id, started, run_inputs),
            forms=list(run.waiting.values()),
        )  # fmt: skip
        return

    status: RunStatus = "succeeded"
    error = run.error.message if run.error else None
    if error is not None:
        status = "failed"
    elif run.exceptions:
        status = "partial-succeeded"
    usage = run.usage
    yield RunFinished(
        run_id=run_id, status=status, outputs=run.outputs if error is None else {},
        error=error, started_at=started, finished_at=time.time(),
        total_tokens=usage.total_tokens if usage else 0, total_steps=run.steps,
        exceptions_count=run.exceptions, usage=usage,
    )  # fmt: skip
