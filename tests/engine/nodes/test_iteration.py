"""iteration: real graphs through the real runner, one subgraph pass per item."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from chatflow.engine.events import (
    Event,
    IterationCompleted,
    IterationNext,
    IterationStarted,
    NodeFinished,
    NodeStarted,
    RunFinished,
)
from chatflow.engine.graph import Edge, Graph, GraphNode
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import iteration, iteration_start
from chatflow.engine.nodes.base import (
    EngineServices,
    NodeConfig,
    NodeContext,
    NodeEvent,
    NodeResult,
)
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import Usage
from chatflow.providers.fake import FakeRegistry

Body = Callable[[Any], Any]


def _node(
    node_id: str, body: Body, *, container: str | None = "it", usage: Usage | None = None
) -> GraphNode:
    """A body node computing `value` from the current item (a stand-in for a code node)."""

    async def run(ctx: NodeContext, config: NodeConfig) -> AsyncIterator[NodeEvent]:
        yield NodeResult(outputs={"value": body(ctx.pool.get(["it", "item"]))}, usage=usage)

    return GraphNode(node_id, "code", NodeConfig(title=node_id), run, container=container)


async def _start(ctx: NodeContext, config: NodeConfig) -> AsyncIterator[NodeEvent]:
    yield NodeResult()


def _graph(body: Body, **data: Any) -> Graph:
    config = iteration.Config.model_validate(
        {
            "type": "iteration",
            "title": "Loop over items",
            "start_node_id": "it-start",
            "iterator_selector": ["start", "items"],
            "output_selector": ["body", "value"],
            "output_type": "array[number]",
            **data,
        }
    )
    nodes = [
        GraphNode("start", "start", NodeConfig(), _start),
        GraphNode("it", "iteration", config, iteration.run, start_node_id="it-start"),
        GraphNode(
            "it-start",
            "iteration-start",
            iteration_start.Config(),
            iteration_start.run,
            container="it",
        ),
        _node("body", body, usage=Usage(prompt_tokens=2, completion_tokens=1)),
    ]
    edges = [Edge("e1", "start", "it"), Edge("e2", "it-start", "body")]
    return Graph.build(nodes, edges, mode="workflow")


async def _run(
    graph: Graph, items: Any, *, parallelism: int = 10
) -> tuple[list[Event], VariablePool]:
    pool = VariablePool()
    services = EngineServices(
        models=FakeRegistry(), limits=EngineLimits(max_iteration_parallelism=parallelism)
    )
    events = [
        e async for e in run_graph(graph, pool=pool, services=services, inputs={"items": items})
    ]
    return events, pool


def _fail_on_two(item: Any) -> Any:
    if item == 2:
        raise ValueError("two is not allowed")
    return item * 2


async def test_sequential_outputs_events_and_scopes() -> None:
    events, pool = await _run(_graph(lambda item: item * 10), [1, 2, 3])
    assert pool.get(["it", "output"]) == [10, 20, 30]
    started = next(e for e in events if isinstance(e, IterationStarted))
    assert started.metadata == {"iteration_length": 3} and started.title == "Loop over items"
    assert started.inputs == {"iterator_selector": [1, 2, 3]}
    body = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "body"]
    assert [(e.scope.iteration_id, e.scope.iteration_index) for e in body] == [
        ("it", 0),
        ("it", 1),
        ("it", 2),
    ]
    completed = next(e for e in events if isinstance(e, IterationCompleted))
    assert completed.status == "succeeded" and completed.steps == 3
    assert completed.usage is not None and completed.usage.total_tokens == 9
    finished = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == "it")
    assert finished.outputs == {"output": [10, 20, 30]}
    assert finished.usage is not None and finished.usage.total_tokens == 9
    assert isinstance(events[-1], RunFinished) and events[-1].status == "succeeded"
    # Item order: Started, then each Next before its pass's events, Completed last.
    order = [
        type(e).__name__
        for e in events
        if isinstance(e, IterationStarted | IterationNext | IterationCompleted)
    ]
    assert order == ["IterationStarted", *["IterationNext"] * 3, "IterationCompleted"]


async def test_parallel_keeps_item_order_and_bounds_concurrency() -> None:
    active = peak = 0

    def body(item: Any) -> Any:
        return item

    graph = _graph(body, is_parallel=True, parallel_nums=3)
    original = graph.nodes["body"].run

    async def tracked(ctx: NodeContext, config: Any) -> AsyncIterator[NodeEvent]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        item = ctx.pool.get(["it", "item"])
        await asyncio.sleep(0.01 * (6 - item))  # later items finish first
        active -= 1
        async for event in original(ctx, config):
            yield event

    graph.nodes["body"].run = tracked
    events, pool = await _run(graph, [1, 2, 3, 4, 5])
    assert pool.get(["it", "output"]) == [1, 2, 3, 4, 5]
    assert peak == 3
    nexts = sorted(e.index for e in events if isinstance(e, IterationNext))
    assert nexts == [0, 1, 2, 3, 4]


async def test_parallel_capped_by_limits() -> None:
    peak = active = 0
    graph = _graph(lambda item: item, is_parallel=True, parallel_nums=8)
    original = graph.nodes["body"].run

    async def tracked(ctx: NodeContext, config: Any) -> AsyncIterator[NodeEvent]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.005)
        active -= 1
        async for event in original(ctx, config):
            yield event

    graph.nodes["body"].run = tracked
    _, pool = await _run(graph, list(range(6)), parallelism=2)
    assert peak == 2 and pool.get(["it", "output"]) == list(range(6))


@pytest.mark.parametrize("parallel", [False, True])
async def test_error_modes(parallel: bool) -> None:
    common = {"is_parallel": parallel, "parallel_nums": 2}
    events, _ = await _run(_graph(_fail_on_two, **common), [1, 2, 3])
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "failed"
    assert finished.error is not None and "two is not allowed" in finished.error
    completed = next(e for e in events if isinstance(e, IterationCompleted))
    assert completed.status == "failed"

    _, pool = await _run(
        _graph(_fail_on_two, error_handle_mode="continue-on-error", **common), [1, 2, 3]
    )
    assert pool.get(["it", "output"]) == [2, None, 6]

    _, pool = await _run(
        _graph(_fail_on_two, error_handle_mode="remove-abnormal-output", **common), [1, 2, 3]
    )
    assert pool.get(["it", "output"]) == [2, 6]


async def test_flatten_output() -> None:
    _, pool = await _run(_graph(lambda item: [item, item]), [1, 2])
    assert pool.get(["it", "output"]) == [1, 1, 2, 2]
    _, pool = await _run(_graph(lambda item: [item], flatten_output=False), [1, 2])
    assert pool.get(["it", "output"]) == [[1], [2]]


async def test_empty_and_invalid_iterators() -> None:
    events, pool = await _run(_graph(lambda item: item), [])
    assert pool.get(["it", "output"]) == []
    assert any(isinstance(e, IterationCompleted) and e.steps == 0 for e in events)
    events, _ = await _run(_graph(lambda item: item), "not a list")
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "failed"
    assert finished.error is not None and "please provide a list" in finished.error


@pytest.mark.perf
async def test_iteration_cost_grows_linearly_with_items() -> None:
    """Guards against per-item work that grows with the list (never an absolute time)."""
    graph = _graph(lambda item: item)

    async def best_of_three(items: list[int]) -> float:
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            _, pool = await _run(graph, items)
            timings.append(time.perf_counter() - began)
            assert pool.get(["it", "output"]) == items
        return min(timings)

    await _run(graph, list(range(100)))  # warm up
    small = await best_of_three(list(range(20)))
    large = await best_of_three(list(range(200)))
    # 10x the items: linear is ~10x; a quadratic cost would be ~100x.
    assert large < 40 * small, (small, large)


def test_parses_corpus_shapes() -> None:
    config = iteration.Config.model_validate(
        {
            "iterator_selector": ["1721474172600", "items"],
            "output_selector": ["n", "text"],
            "output_type": "array[string]",
            "startNodeType": "code",
            "start_node_id": "1721475912946start0",
            "title": "迭代",
            "type": "iteration",
        }
    )
    assert config.error_handle_mode == "terminated" and config.parallel_nums == 10
    assert config.flatten_output is True


async def test_container_events_carry_the_node_execution_id() -> None:
    events, _ = await _run(_graph(lambda item: item), [1])
    started = next(e for e in events if isinstance(e, IterationStarted))
    node = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == "it")
    assert started.execution_id == node.execution_id != ""


@pytest.mark.parametrize("parallel", [False, True])
async def test_iteration_start_node_events_are_dropped(parallel: bool) -> None:
    # Dify's iteration drops its start node's events: only the body's reach the client.
    events, _ = await _run(_graph(lambda item: item, is_parallel=parallel), [1, 2])
    ids = [e.node_id for e in events if isinstance(e, NodeStarted | NodeFinished)]
    assert "it-start" not in ids and ids.count("body") == 4
