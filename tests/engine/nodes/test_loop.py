"""loop: real graphs (with the real assigner inside) through the real runner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatflow.engine.events import (
    Event,
    LoopCompleted,
    LoopNext,
    LoopStarted,
    NodeFinished,
    NodeStarted,
    RunFinished,
)
from chatflow.engine.graph import Edge, Graph, GraphNode
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import assigner, loop, loop_end, loop_start
from chatflow.engine.nodes.base import (
    EngineServices,
    NodeConfig,
    NodeContext,
    NodeEvent,
    NodeResult,
)
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.providers.fake import FakeRegistry


async def _start(ctx: NodeContext, config: NodeConfig) -> AsyncIterator[NodeEvent]:
    yield NodeResult()


def _increment() -> GraphNode:
    config = assigner.Config.model_validate(
        {
            "type": "assigner",
            "version": "2",
            "isInLoop": True,
            "loop_id": "lp",
            "items": [
                {
                    "input_type": "constant",
                    "operation": "+=",
                    "value": 1,
                    "variable_selector": ["lp", "num"],
                    "write_mode": "over-write",
                }
            ],
        }
    )
    return GraphNode("inc", "assigner", config, assigner.run, container="lp")


def _graph(
    *,
    count: int = 10,
    conditions: list[dict[str, Any]] | None = None,
    with_end_at: int | None = None,
    fail_at: int | None = None,
) -> Graph:
    config = loop.Config.model_validate(
        {
            "type": "loop",
            "title": "Loop",
            "start_node_id": "lp-start",
            "loop_count": count,
            "logical_operator": "and",
            "break_conditions": conditions or [],
            "loop_variables": [
                {"label": "num", "value": "1", "value_type": "constant", "var_type": "number"},
                {
                    "label": "seen",
                    "value": "[]",
                    "value_type": "constant",
                    "var_type": "array[string]",
                },
            ],
        }
    )
    nodes = [
        GraphNode("start", "start", NodeConfig(), _start),
        GraphNode("lp", "loop", config, loop.run, start_node_id="lp-start"),
        GraphNode("lp-start", "loop-start", loop_start.Config(), loop_start.run, container="lp"),
        _increment(),
    ]
    edges = [Edge("e1", "start", "lp"), Edge("e2", "lp-start", "inc")]
    if with_end_at is not None or fail_at is not None:

        async def check(ctx: NodeContext, config: NodeConfig) -> AsyncIterator[NodeEvent]:
            num = ctx.pool.get(["lp", "num"])
            if num == fail_at:
                raise ValueError(f"cannot handle {num}")
            yield NodeResult(
                outputs={"seen": num}, handle="true" if num == with_end_at else "false"
            )

        nodes.append(GraphNode("check", "if-else", NodeConfig(), check, container="lp"))
        nodes.append(GraphNode("end", "loop-end", loop_end.Config(), loop_end.run, container="lp"))
        edges += [Edge("e3", "inc", "check"), Edge("e4", "check", "end", handle="true")]
    return Graph.build(nodes, edges, mode="workflow")


async def _run(graph: Graph, *, max_count: int = 100) -> tuple[list[Event], VariablePool]:
    pool = VariablePool()
    services = EngineServices(models=FakeRegistry(), limits=EngineLimits(loop_max_count=max_count))
    events = [e async for e in run_graph(graph, pool=pool, services=services)]
    return events, pool


BREAK_AT_5 = [
    {
        "comparison_operator": "≥",
        "id": "c",
        "value": "5",
        "varType": "number",
        "variable_selector": ["lp", "num"],
    }
]


async def test_breaks_when_condition_holds_like_dify_fixture() -> None:
    events, pool = await _run(_graph(conditions=BREAK_AT_5))
    assert pool.get(["lp", "num"]) == 5
    assert pool.get(["lp", "loop_round"]) == 4
    started = next(e for e in events if isinstance(e, LoopStarted))
    assert started.inputs == {"loop_count": 10, "num": 1, "seen": []}
    # Dify: `loop_next` between rounds only, with the index of the round to come.
    nexts = [e for e in events if isinstance(e, LoopNext)]
    assert [e.index for e in nexts] == [1, 2, 3]
    assert nexts[0].pre_loop_output == {"num": 2, "seen": [], "loop_round": 1}
    inner = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "inc"]
    assert [(e.scope.loop_id, e.scope.loop_index) for e in inner] == [
        ("lp", 0),
        ("lp", 1),
        ("lp", 2),
        ("lp", 3),
    ]
    completed = next(e for e in events if isinstance(e, LoopCompleted))
    assert completed.status == "succeeded" and completed.steps == 10  # Dify: `loop_count`
    assert completed.outputs["num"] == 5


async def test_runs_loop_count_rounds_and_caps_at_limit() -> None:
    _, pool = await _run(_graph(count=3))
    assert pool.get(["lp", "num"]) == 4 and pool.get(["lp", "loop_round"]) == 3
    _, pool = await _run(_graph(count=50), max_count=2)
    assert pool.get(["lp", "num"]) == 3


async def test_condition_true_before_first_round_runs_nothing() -> None:
    already = [{**BREAK_AT_5[0], "value": "1"}]
    events, pool = await _run(_graph(conditions=already))
    assert pool.get(["lp", "num"]) == 1
    assert not [e for e in events if isinstance(e, LoopNext)]
    assert next(e for e in events if isinstance(e, LoopCompleted)).steps == 0


async def test_count_exhausted_loop_announces_a_next_round_after_each() -> None:
    events, _ = await _run(_graph(count=3))
    assert [e.index for e in events if isinstance(e, LoopNext)] == [1, 2, 3]


async def test_last_round_inner_outputs_stay_in_the_pool() -> None:
    # Dify runs a loop in the run's own pool: after the loop, its nodes' last outputs
    # are still there for nodes downstream.
    _, pool = await _run(_graph(conditions=BREAK_AT_5, with_end_at=99))
    assert pool.get(["check", "seen"]) == 5  # rounds saw 2, 3, 4, 5
    assert pool.get(["lp", "num"]) == 5


async def test_start_node_events_are_dropped() -> None:
    events, _ = await _run(_graph(count=2))
    types = {e.node_type for e in events if isinstance(e, NodeStarted | NodeFinished)}
    assert "loop-start" not in types and {"loop", "assigner"} <= types


async def test_loop_end_node_breaks() -> None:
    events, pool = await _run(_graph(with_end_at=3))
    assert pool.get(["lp", "num"]) == 3
    assert next(e for e in events if isinstance(e, LoopCompleted)).steps == 10


async def test_failing_child_fails_the_loop() -> None:
    events, _ = await _run(_graph(fail_at=3))
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "failed"
    assert finished.error is not None and "cannot handle 3" in finished.error
    assert next(e for e in events if isinstance(e, LoopCompleted)).status == "failed"


async def test_variable_initialised_from_selector() -> None:
    config = loop.Config.model_validate(
        {
            "start_node_id": "s",
            "loop_count": 1,
            "logical_operator": "or",
            "break_conditions": [],
            "loop_variables": [
                {
                    "label": "x",
                    "value_type": "variable",
                    "var_type": "string",
                    "value": ["sys", "query"],
                }
            ],
        }
    )
    assert (
        loop._initial_value(VariablePool(system={"query": "hi"}), config.loop_variables[0]) == "hi"
    )
