"""One pass through one scope: the top-level graph, or one iteration/loop pass.

`ScopeRun` is the scheduler: it starts the nodes that Dify's traversal rules (`_edges.py`)
make ready. Independent branches run as concurrent tasks of one task group; a chain
continues in the task that ran its predecessor, which keeps per-node overhead to a few
function calls. A sequential scope (no fan-out) is driven inline in the caller's task,
with no task group at all.

Around each node it applies `retry_config` and `error_strategy` (helpers in `_step.py`),
counts steps, and feeds streamed text to the answer coordinator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from chatflow.engine import _pause
from chatflow.engine._channel import Channel, drain
from chatflow.engine._edges import Edges
from chatflow.engine._step import (
    PASS_START_TYPES,
    Abort,
    Step,
    StepBudget,
    checked,
    error_details,
    execution_id,
    handled_failure,
    message,
    retries,
    take,
)
from chatflow.engine.answer_stream import JournaledStream, answer_stream
from chatflow.engine.events import ContainerScope, Event, HumanInputRequired
from chatflow.engine.graph import RESPONSE_TYPES, Graph, GraphNode, Scope
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


class ScopeRun:
    """State of one pass through one scope, and the loop that drives it."""

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
        budget: StepBudget,
    ) -> None:
        self.graph = graph
        self.scope = scope
        self.pool = pool
        self.services = services
        self.history = history
        self.emit = emit
        self.container = container
        self.budget = budget
        self.edges = Edges(graph.nodes, scope.in_count)
        self.stream = answer_stream(graph, scope, pool, emit)
        # Dify's `total_steps` (node_run_steps): this scope's node starts, retry attempts
        # included; passes of a container keep their own count, as Dify's child engines do.
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
        the caller has already brought up to date. The time limit is Dify's
        WORKFLOW_MAX_EXECUTION_TIME, with its error message.
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

    def drive_now(self) -> None:
        """`drive` for a scope whose nodes never await (all instant, none retried): run
        to its end in the caller's frame, with no task, task group or timer. The
        task-group driver would run such a scope in one go too (its time limit has no
        await to fire at), in this order: a chain to its end, then each extra branch's
        chain in the order its task was created."""
        self.stream.start()
        chains: list[tuple[str, str | None]] = [(self.scope.root_id, None)]
        try:
            for node_id, first in chains:  # (extra branches are appended as they come)
                predecessor: str | None = first
                current: str | None = node_id
                while current is not None:
                    ready = self._execute_now(self.graph.nodes[current], predecessor)
                    predecessor, current = current, None
                    if self.pausing:  # as `_chain`: once a pause is requested, no new node
                        self.deferred.extend((successor, predecessor) for successor in ready)
                        break
                    for index, successor in enumerate(ready):
                        if index == 0:
                            current = successor
                        else:
                            chains.append((successor, predecessor))
        except Abort as failure:
            self.error = failure
        except Exception as failure:  # a runner bug: still end the run as failed
            self.error = Abort(f"internal error: {message(failure)}", None, type(failure).__name__)
        if self.error is None and not (self.pausing or self.waiting):
            self.stream.finish()

    def _execute_now(self, node: GraphNode, predecessor: str | None) -> Sequence[str]:
        """`_execute` of an instant node that is never retried: a failed attempt goes
        straight to its error strategy, as `_recover` sends it."""
        step, ctx = self._begin(node, predecessor)
        ready = self._instant(step, ctx)
        if isinstance(ready, list):
            return ready
        assert ready is not None  # (an instant node's failure)
        return self._failed(step, ready)

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
                # One node as `_execute` runs it (see "one node" below), yielding as it goes.
                step, ctx = self._begin(node, predecessor)
                done = self._instant(step, ctx)
                if isinstance(done, list):
                    step.ready = done
                else:
                    events = self._attempts(step, ctx, done, buffer)
                    try:
                        async for event in events:
                            yield event
                    finally:
                        await events.aclose()
                for event in take(buffer):
                    yield event
                predecessor = node.id
                # A sequential scope readies at most one node at a time; should that
                # ever not hold, the extra nodes still run, one after another.
                queue.extend(step.ready)
        except Abort as failure:
            self.error = failure
        except Exception as failure:  # a runner bug: still end the pass as failed
            self.error = Abort(f"internal error: {message(failure)}", None, type(failure).__name__)
        if self.error is None and not self.pausing:
            self.stream.finish()
        for event in take(buffer):
            yield event
        self.raise_failure()

    # -- pausing ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """This (top-level, paused) run's state as JSON-compatible data: the pool but
        `env.*`, the edge counts, the answer coordinator's journal, the nodes to start on
        resume, the forms waiting, and the counters."""
        assert isinstance(self.stream, JournaledStream)
        return {
            "pool": _pause.pool_state(self.pool, [SYSTEM, CONVERSATION, *self.graph.nodes]),
            "pending": dict(self.edges.pending),
            "taken": dict(self.edges.taken),
            "journal": [list(entry) for entry in self.stream.journal],
            "deferred": [list(entry) for entry in self.deferred],
            "waiting": {n: _pause.form_state(form) for n, form in self.waiting.items()},
            "steps": self.steps,
            "budget_used": self.budget.used,
            "exceptions": self.exceptions,
            "outputs": _pause.encode(self.outputs),
            "usage": _pause.usage_state(self.usage),
        }

    def restore(
        self, state: Mapping[str, Any], resume: Mapping[str, Any]
    ) -> list[tuple[str, str | None]]:
        """Load a `snapshot` into this fresh top-level run; returns the (node,
        predecessor) chains to start. Paused nodes without a resume input stay paused
        and are not re-run."""
        waiting = {n: _pause.form_from_state(data) for n, data in state["waiting"].items()}
        unknown = sorted(set(resume) - set(waiting))
        if unknown:
            raise ValueError(f"node {unknown[0]} is not waiting for input in this run")
        _pause.restore_pool(self.pool, state["pool"])
        self.edges.pending.update(state["pending"])
        self.edges.taken = dict(state["taken"])
        self.steps = int(state["steps"])
        # Snapshots taken before the run-wide budget existed counted top-level steps only.
        self.budget.used = int(state.get("budget_used", self.steps))
        self.exceptions = int(state["exceptions"])
        self.outputs = _pause.decode(state["outputs"])
        self.usage = _pause.usage_from_state(state["usage"])
        stream = JournaledStream(self.graph, self.scope, self.pool, self.emit)
        stream.replay(state["journal"])
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

    def journal_answers(self) -> None:
        """Record the answer coordinator's progress, so this run can pause and resume."""
        self.stream = JournaledStream(self.graph, self.scope, self.pool, self.emit)

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

    # -- one node -----------------------------------------------------------------------

    # Both drivers run a node the same way: `_begin`, then `_instant`, the sync fast path
    # (an instant node's attempt: no coroutine, no generator), and only when that does
    # not finish the node, `_attempts`, the async path (streaming items, retries, the
    # error strategy; the task-group driver tries a streaming node once with `_streamed`
    # first). The task-group driver runs it to the end; `drive_inline` yields
    # the events its pass buffered as it goes.

    async def _execute(self, node: GraphNode, predecessor: str | None) -> Sequence[str]:
        """Run one node; returns the successors it readied."""
        step, ctx = self._begin(node, predecessor)
        ready = self._instant(step, ctx)
        if isinstance(ready, list):
            return ready
        if ready is None:  # a streaming node's first attempt, as a plain coroutine
            ready = await self._streamed(step, ctx)
            if ready is None:
                return step.ready
        async for _ in self._attempts(step, ctx, ready, None):
            pass  # (nothing is buffered: events went to `self.emit` as they came)
        return step.ready

    def _begin(self, node: GraphNode, predecessor: str | None) -> tuple[Step, NodeContext]:
        """Count the step, emit NodeStarted and build the node's context."""
        self.budget.take(node)
        self.steps += 1
        step = Step(node, execution_id(), self.steps, predecessor, time.time(), self.container)
        if node.type not in PASS_START_TYPES:  # a pass's start node is silent
            self.emit(step.started_event())
        ctx = NodeContext(
            node.id, self.pool, self.services, self.history, self.container,
            self._run_subgraph, self.graph.mode, step.execution_id,
        )  # fmt: skip
        if self.resume:
            ctx.resume = self.resume.pop(node.id, None)
        return step, ctx

    def _instant(self, step: Step, ctx: NodeContext) -> list[str] | Exception | None:
        """One attempt of an instant node, in the caller's frame: the successors it
        readied, or where `_attempts` takes over: the attempt's exception, or None for
        a streaming node."""
        node = step.node
        if node.instant is None:
            return None
        try:
            result = node.instant(ctx, node.config)  # typed: a NodeResult
        except (asyncio.CancelledError, Abort):
            raise
        except Exception as exc:
            return exc
        return self._succeeded(step, result)

    async def _streamed(self, step: Step, ctx: NodeContext) -> Exception | None:
        """One attempt of a streaming node for the task-group driver (nothing buffered):
        None when it succeeded (`step.ready` set), else its exception for `_attempts`.
        `_attempts`' streaming loop without the buffer, as a coroutine: an async
        generator per node costs its hooks (~3 µs) on every LLM node."""
        node = step.node
        assert node.streaming is not None
        found: NodeResult | None = None
        on_chunk = self.stream.on_chunk
        try:
            run: AsyncGenerator[Any, None] = node.streaming(ctx, node.config)
            try:
                async for item in run:
                    kind = type(item)
                    if kind is StreamChunk:
                        on_chunk(item.selector, item.text)
                    elif kind is NodeResult:
                        found = item
                    else:
                        self.emit(item)
            finally:
                await run.aclose()
            result = checked(node, found)
        except (asyncio.CancelledError, Abort):
            raise
        except Exception as exc:
            return exc
        step.ready = self._succeeded(step, result)
        return None

    async def _attempts(
        self, step: Step, ctx: NodeContext, failure: Exception | None, buffer: list[Event] | None
    ) -> AsyncGenerator[Event, None]:
        """The rest of a node after `_instant`: recovery from `failure` (`_recover`),
        attempts until one succeeds or the error strategy ends the node, and
        `step.ready` set. A streaming node's items are dispatched as they come; with a
        `buffer` (`drive_inline`'s), what the pass buffered is yielded after each item,
        so streamed text keeps flowing. Without one it yields nothing."""
        node = step.node
        attempt = 0
        while True:
            if failure is not None:
                attempt += 1
                ready = await self._recover(step, failure, attempt)
                if ready is not None:  # the error strategy ended the node
                    step.ready = ready
                    return
                outcome = self._instant(step, ctx)  # tried again (an instant node here)
                if isinstance(outcome, list):
                    step.ready = outcome
                    return
                failure = outcome
                if failure is not None:
                    continue
            assert node.streaming is not None
            found: NodeResult | None = None
            on_chunk = self.stream.on_chunk
            try:
                # Items as `Any`: dispatched by `type() is`, not isinstance, as this
                # runs for every streamed token.
                run: AsyncGenerator[Any, None] = node.streaming(ctx, node.config)
                try:
                    async for item in run:
                        kind = type(item)
                        if kind is StreamChunk:
                            on_chunk(item.selector, item.text)
                        elif kind is NodeResult:
                            found = item
                        else:
                            self.emit(item)  # a container's child events, ...
                        if buffer:
                            for event in take(buffer):
                                yield event
                finally:
                    # Closed here, not when collected, should this be left mid-way
                    # (`aclosing`'s job, without its context-manager calls per node).
                    await run.aclose()
                result = checked(node, found)
            except (asyncio.CancelledError, Abort):
                raise
            except Exception as exc:
                failure = exc
                continue
            step.ready = self._succeeded(step, result)
            return

    async def _recover(self, step: Step, exc: Exception, attempt: int) -> list[str] | None:
        """After a failed attempt (`attempt` counts from 1): None when the node is to be
        tried again (Dify's retry: a `node_retry` event, `retry_interval` ms of waiting,
        a new attempt that counts toward `total_steps` but sends no second
        `node_started`); otherwise what its error strategy readied (`_failed`)."""
        if attempt > retries(step.node):
            return self._failed(step, exc)
        self.emit(step.retry_event(attempt, message(exc)))
        self.steps += 1
        await asyncio.sleep(step.node.config.retry_config.retry_interval / 1000)
        return None

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
        if node.type not in PASS_START_TYPES:
            self.emit(
                step.finished(
                    result.status, outputs=result.outputs, inputs=result.inputs,
                    process_data=result.process_data, usage=result.usage, handle=result.handle,
                )
            )  # fmt: skip
        return self.edges.resolve(node, result.handle, self.stream.on_skipped)

    def _paused(self, step: Step) -> list[str]:
        """A node asked to pause (its `HumanInputRequired` was just emitted): remember
        it as a node to re-run on resume; nothing downstream of it is decided yet."""
        self.pausing = True
        self.deferred.append((step.node.id, step.predecessor))
        return []

    def _failed(self, step: Step, exc: Exception) -> list[str]:
        """Apply the node's error strategy, or end the run (Dify's error handler).

        A handled failure finishes the node with status `exception` and counts toward
        the run's `exceptions_count`, which makes the run `partial-succeeded`.
        """
        node = step.node
        error, error_type = error_details(exc)
        if node.config.error_strategy is None:
            self.emit(step.finished("failed", outputs={}, error=error, error_type=error_type))
            raise Abort(error, node.id, error_type)
        outputs, handle = handled_failure(node, error, error_type)
        self.pool.set_outputs(node.id, outputs)
        self.exceptions += 1
        self.stream.on_finished(node.id, handle)
        self.emit(
            step.finished(
                "exception", outputs=outputs, error=error, error_type=error_type,
                handle=handle,
            )
        )  # fmt: skip
        return self.edges.resolve(node, handle, self.stream.on_skipped)

    def _merge_response(self, outputs: Mapping[str, Any]) -> None:
        """Dify's run outputs: answers concatenate, other keys (end outputs) overwrite."""
        for key, value in outputs.items():
            if key == "answer" and self.outputs.get("answer"):
                self.outputs["answer"] = f"{self.outputs['answer']}{value}"
            else:
                self.outputs[key] = value

    def _run_subgraph(
        self, start_node_id: str, pool: VariablePool, scope: ContainerScope
    ) -> AsyncIterator[Event]:
        """`NodeContext.run_subgraph`: a container pass sharing this run's step budget."""
        return run_subgraph(
            self.graph, start_node_id, pool=pool, services=self.services,
            history=self.history, scope=scope, budget=self.budget,
        )  # fmt: skip


def run_subgraph(
    graph: Graph,
    start_node_id: str,
    *,
    pool: VariablePool,
    services: EngineServices,
    history: Sequence[Turn] = (),
    scope: ContainerScope,
    budget: StepBudget | None = None,
) -> AsyncIterator[Event]:
    """One pass through a container's body: its child events (stamped with `scope`);
    raises `NodeError` after them if a child failed with no error strategy.

    `budget` is the enclosing run's step budget (a fresh one from `services.limits`
    when the pass is run on its own).
    """
    body = graph.scope(start_node_id)
    if budget is None:
        budget = StepBudget(services.limits.max_steps)
    if body.sequential:
        buffer: list[Event] = []
        run = ScopeRun(
            graph, body, pool=pool, services=services, history=history, emit=buffer.append,
            container=scope, budget=budget,
        )  # fmt: skip
        return run.drive_inline(buffer)
    channel = Channel()
    run = ScopeRun(
        graph, body, pool=pool, services=services, history=history, emit=channel.emit,
        container=scope, budget=budget,
    )  # fmt: skip
    return _grouped_pass(run, channel)


async def _grouped_pass(run: ScopeRun, channel: Channel) -> AsyncIterator[Event]:
    """A pass whose branches may run concurrently: a task group drained by a channel."""
    async with aclosing(drain(run.drive(), channel)) as batches:
        async for batch in batches:
            for event in batch:
                yield event
    run.raise_failure()
