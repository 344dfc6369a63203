"""The iteration node: runs its subgraph once per item of an array.

Matches Dify's iteration: each pass sees `[iteration_id, "item"]` and
`[iteration_id, "index"]` in its own forked pool, the node's `output` collects
`output_selector` from every pass in item order (flattened when every output is a list
and `flatten_output` is on), and `error_handle_mode` decides what a failed pass does:
`terminated` fails the node, `continue-on-error` keeps `None` in its slot,
`remove-abnormal-output` drops the slot. Parallel mode runs up to `parallel_nums`
passes at once (capped by `limits.max_iteration_parallelism`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from chatflow.engine.events import (
    ContainerScope,
    Event,
    IterationCompleted,
    IterationNext,
    IterationStarted,
)
from chatflow.engine.files import to_json
from chatflow.engine.nodes._container import (
    PassOutcome,
    add_usage,
    run_pass,
    subgraph_runner,
)
from chatflow.engine.nodes.base import (
    NodeConfig,
    NodeContext,
    NodeEvent,
    NodeResult,
    SubgraphRunner,
)
from chatflow.engine.variables import MISSING, VariablePool
from chatflow.errors import NodeError
from chatflow.providers.base import Usage

TYPE = "iteration"

ErrorHandleMode = Literal["terminated", "continue-on-error", "remove-abnormal-output"]


class Config(NodeConfig):
    start_node_id: str = ""
    iterator_selector: list[str] = Field(default_factory=list)
    output_selector: list[str] = Field(default_factory=list)
    output_type: str | None = None
    is_parallel: bool = False
    parallel_nums: int = Field(default=10, ge=1)
    error_handle_mode: ErrorHandleMode = "terminated"
    flatten_output: bool = True


@dataclass(slots=True)
class _Progress:
    """Per-run state shared by the sequential and parallel drivers."""

    outputs: dict[int, Any] = field(default_factory=dict)
    usage: Usage | None = None
    error: str | None = None

    def record(self, config: Config, index: int, pool: VariablePool, outcome: PassOutcome) -> None:
        self.usage = add_usage(self.usage, outcome.usage)
        if outcome.error is None:
            value = pool.get(config.output_selector)
            self.outputs[index] = None if value is MISSING else value
        elif config.error_handle_mode == "continue-on-error":
            self.outputs[index] = None
        elif config.error_handle_mode == "terminated" and self.error is None:
            self.error = outcome.error


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    runner = subgraph_runner(ctx, TYPE)
    items = _items(ctx, config)
    inputs = {"iterator_selector": to_json(items)}
    started = time.time()
    yield IterationStarted(
        execution_id=ctx.execution_id,
        node_id=ctx.node_id,
        title=config.title,
        inputs=inputs,
        started_at=started,
        metadata={"iteration_length": len(items)},
    )
    progress = _Progress()
    parallelism = min(config.parallel_nums, ctx.services.limits.max_iteration_parallelism)
    if config.is_parallel and parallelism > 1 and len(items) > 1:
        async for event in _parallel(ctx, config, runner, items, progress, parallelism):
            yield event
    else:
        # Inline rather than a helper generator: one less hop per child event.
        for index, item in enumerate(items):
            pool, scope, next_event = _pass_setup(ctx, config, item, index)
            yield next_event
            outcome = PassOutcome()
            async for event in run_pass(runner, config.start_node_id, pool, scope, outcome):
                yield event
            progress.record(config, index, pool, outcome)
            if progress.error is not None:
                break

    output = _collect(progress.outputs, flatten=config.flatten_output)
    yield IterationCompleted(
        execution_id=ctx.execution_id,
        node_id=ctx.node_id,
        title=config.title,
        inputs=inputs,
        outputs={"output": to_json(output)},
        status="failed" if progress.error else "succeeded",
        error=progress.error,
        steps=len(items),
        started_at=started,
        finished_at=time.time(),
        usage=progress.usage,
    )
    if progress.error is not None:
        raise NodeError(progress.error)
    yield NodeResult(outputs={"output": output}, inputs=inputs, usage=progress.usage)


def _items(ctx: NodeContext, config: Config) -> list[Any]:
    value = ctx.pool.get(config.iterator_selector)
    if value is MISSING:
        raise NodeError(f"iterator variable {config.iterator_selector} not found")
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise NodeError(f"invalid iterator value: {value!r}, please provide a list.")
    return list(value)


def _pass_setup(
    ctx: NodeContext, config: Config, item: Any, index: int
) -> tuple[VariablePool, ContainerScope, IterationNext]:
    pool = ctx.pool.fork()
    pool.set(ctx.node_id, "item", item)
    pool.set(ctx.node_id, "index", index)
    # Built directly: dataclasses.replace costs more than the rest of the setup.
    scope = ContainerScope(ctx.node_id, index, ctx.scope.loop_id, ctx.scope.loop_index)
    next_event = IterationNext(
        execution_id=ctx.execution_id,
        node_id=ctx.node_id,
        title=config.title,
        index=index,
        started_at=time.time(),
    )
    return pool, scope, next_event


class _WorkerDone:
    __slots__ = ()


_DONE = _WorkerDone()


async def _parallel(
    ctx: NodeContext,
    config: Config,
    runner: SubgraphRunner,
    items: list[Any],
    progress: _Progress,
    parallelism: int,
) -> AsyncIterator[Event]:
    """Up to `parallelism` passes at once; their events interleave through one queue.

    After a `terminated` failure no new pass starts, but passes already running finish
    (as Dify's engine waits for scheduled passes), so every NodeStarted gets its
    NodeFinished.
    """
    queue: asyncio.Queue[Event | _WorkerDone] = asyncio.Queue()
    indexes: Iterator[int] = iter(range(len(items)))

    async def worker() -> None:
        try:
            for index in indexes:
                if progress.error is not None:
                    return
                pool, scope, next_event = _pass_setup(ctx, config, items[index], index)
                queue.put_nowait(next_event)
                outcome = PassOutcome()
                async for event in run_pass(runner, config.start_node_id, pool, scope, outcome):
                    queue.put_nowait(event)
                progress.record(config, index, pool, outcome)
        finally:
            queue.put_nowait(_DONE)

    workers = [asyncio.create_task(worker()) for _ in range(min(parallelism, len(items)))]
    try:
        running = len(workers)
        while running:
            event = await queue.get()
            if isinstance(event, _WorkerDone):
                running -= 1
            else:
                yield event
        for task in workers:
            task.result()  # surface a bug in a worker instead of losing it
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def _collect(outputs: dict[int, Any], *, flatten: bool) -> list[Any]:
    """Outputs in item order; Dify flattens when every non-null output is a list."""
    ordered = [outputs[index] for index in sorted(outputs)]
    if not flatten:
        return ordered
    present = [value for value in ordered if value is not None]
    if not present or not all(isinstance(value, list) for value in present):
        return ordered
    flat: list[Any] = []
    for value in present:
        flat.extend(value)
    return flat
