"""Step counting as Dify does it: one run-wide step limit, and `total_steps` per scope.

Dify's step limit (`ExecutionLimitsLayer`) sees every node start of the run, those in
iteration and loop passes included, but not retry attempts nor the passes' start nodes.
`total_steps` (`node_run_steps`) counts the top level's node starts, retry attempts
included; passes run in child engines whose counts and exceptions stay their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.engine.events import Event, NodeFinished, RunFinished
from chatflow.engine.graph import Graph
from tests.engine.conftest import Probe, build, chain, collect, edge, node, services


def _child(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    raw = node(node_id, node_type, isInIteration=True, iteration_id="it", **data)
    raw["parentId"] = "it"
    return raw


def _iteration(probe: Probe, *, error_handle_mode: str = "terminated", **q_data: Any) -> Graph:
    """start -> iteration over `items` (body: p -> q) -> answer."""
    nodes = [
        node(
            "start",
            "start",
            variables=[{"variable": "items", "type": "json", "label": "items", "required": False}],
        ),
        node(
            "it", "iteration", start_node_id="it-start", iterator_selector=["start", "items"],
            output_selector=["q", "value"], error_handle_mode=error_handle_mode,
        ),
        _child("it-start", "iteration-start"),
        _child("p", "probe", value=1),
        _child("q", "probe", value=2, **q_data),
        node("answer", "answer", answer="{{#it.output#}}"),
    ]  # fmt: skip
    edges = [edge("start", "it"), edge("it", "answer"), *chain("it-start", "p", "q")]
    return build(nodes=nodes, edges=edges, probe=probe)


def _end(events: list[Event]) -> RunFinished:
    final = events[-1]
    assert isinstance(final, RunFinished)
    return final


async def test_nodes_inside_passes_count_toward_the_step_limit() -> None:
    # start, it, 3 passes x (p, q), answer: 9 steps (iteration-start is not counted).
    graph = _iteration(Probe())
    ok = _end(await collect(graph, inputs={"items": [1, 2, 3]}, engine=services(max_steps=9)))
    assert ok.status == "succeeded"
    over = _end(await collect(graph, inputs={"items": [1, 2, 3]}, engine=services(max_steps=8)))
    assert over.status == "failed"
    assert over.error == "Maximum execution steps exceeded: 9 > 8"


async def test_total_steps_counts_the_top_level_only() -> None:
    end = _end(await collect(_iteration(Probe()), inputs={"items": [1, 2, 3]}))
    assert end.status == "succeeded"
    assert end.total_steps == 3  # start, it, answer


@pytest.mark.parametrize("kind", ["probe", "probe-instant"])
async def test_retry_attempts_count_in_total_steps_but_not_toward_the_limit(kind: str) -> None:
    probe = Probe()
    retry = {"retry_enabled": True, "max_retries": 3, "retry_interval": 0}
    graph = build(
        nodes=[node("start", "start"), node("flaky", kind, fail_times=2, retry_config=retry)],
        edges=chain("start", "flaky"),
        probe=probe,
    )
    end = _end(await collect(graph, engine=services(max_steps=2)))
    assert probe.attempts["flaky"] == 3
    assert end.status == "succeeded"
    assert end.total_steps == 4  # start + three attempts of flaky


async def test_failure_handled_by_continue_on_error_leaves_the_run_succeeded() -> None:
    events = await collect(
        _iteration(Probe(), error_handle_mode="continue-on-error", fail_times=-1),
        inputs={"items": [1, 2]},
    )
    failed = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "q"]
    assert [e.status for e in failed] == ["failed", "failed"]
    end = _end(events)
    # Dify: the pass's failure stays in its child engine; the iteration succeeded.
    assert (end.status, end.exceptions_count) == ("succeeded", 0)
    (it_done,) = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "it"]
    assert it_done.outputs["output"] == [None, None]


async def test_error_strategy_inside_a_pass_is_not_a_run_exception() -> None:
    events = await collect(
        _iteration(
            Probe(),
            fail_times=-1,
            error_strategy="default-value",
            default_value=[{"key": "value", "type": "number", "value": "7"}],
        ),
        inputs={"items": [1]},
    )
    (q_done,) = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "q"]
    assert q_done.status == "exception"
    end = _end(events)
    assert (end.status, end.exceptions_count) == ("succeeded", 0)


@pytest.mark.parametrize("kind", ["probe", "probe-instant"])
async def test_exhausted_retries_take_the_fail_branch_or_fail_the_run(kind: str) -> None:
    """At the top level (task-group driver), for streaming and instant nodes alike."""
    retry = {"retry_enabled": True, "max_retries": 1, "retry_interval": 0}
    probe = Probe()
    handled = build(
        nodes=[
            node("start", "start"),
            node("flaky", kind, fail_times=-1, retry_config=retry, error_strategy="fail-branch"),
            node("handler", kind, value="h"),
        ],
        edges=[*chain("start", "flaky"), edge("flaky", "handler", "fail-branch")],
        probe=probe,
    )
    events = await collect(handled)
    end = _end(events)
    assert (end.status, end.exceptions_count, end.total_steps) == ("partial-succeeded", 1, 4)
    assert probe.attempts == {"flaky": 2, "handler": 1}
    (flaky,) = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "flaky"]
    assert (flaky.status, flaky.error) == ("exception", "flaky failed on attempt 2")

    unhandled = build(
        nodes=[node("start", "start"), node("flaky", kind, fail_times=-1, retry_config=retry)],
        edges=chain("start", "flaky"),
        probe=Probe(),
    )
    end = _end(await collect(unhandled))
    assert (end.status, end.error) == ("failed", "flaky failed on attempt 2")
