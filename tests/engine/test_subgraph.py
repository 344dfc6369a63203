"""Container passes: sequential bodies run in the caller's task, fan-out bodies in a group.

Both paths must look the same from outside: events in order, streamed text as it comes,
retries and error strategies, failures, and prompt cancellation.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from chatflow.engine.events import NodeFinished, NodeRetry, RunFinished, TextChunk
from chatflow.engine.graph import Graph
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from tests.engine.conftest import Probe, build, collect, edge, node, services


def _child(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    raw = node(node_id, node_type, isInIteration=True, iteration_id="it", **data)
    raw["parentId"] = "it"
    return raw


def _iteration(
    body: list[dict[str, Any]],
    body_edges: list[dict[str, Any]],
    probe: Probe,
    *,
    output: str = "p",
) -> Graph:
    nodes = [
        node(
            "start",
            "start",
            variables=[{"variable": "items", "type": "json", "label": "items", "required": False}],
        ),
        node(
            "it",
            "iteration",
            start_node_id="it-start",
            iterator_selector=["start", "items"],
            output_selector=[output, "value"],
        ),
        _child("it-start", "iteration-start"),
        *body,
        node("answer", "answer", answer="{{#it.output#}}"),
    ]
    edges = [edge("start", "it"), edge("it", "answer"), *body_edges]
    return build(nodes=nodes, edges=edges, probe=probe, mode="workflow")


async def _events(graph: Graph, items: list[Any]) -> list[tuple[float, object]]:
    pool = VariablePool(system={"query": "q"})
    began = time.monotonic()
    return [
        (time.monotonic() - began, event)
        async for event in run_graph(graph, pool=pool, services=services(), inputs={"items": items})
    ]


def test_chain_bodies_are_sequential_and_fan_out_bodies_are_not() -> None:
    probe = Probe()
    chain_body = _iteration(
        [_child("p", "probe"), _child("q", "probe")],
        [edge("it-start", "p"), edge("p", "q")],
        probe,
    )
    fan_out = _iteration(
        [_child("p", "probe"), _child("q", "probe")],
        [edge("it-start", "p"), edge("it-start", "q")],
        probe,
    )
    branch = _iteration(
        [_child("p", "probe", handle="x"), _child("q", "probe"), _child("r", "probe")],
        [edge("it-start", "p"), edge("p", "q", "x"), edge("p", "r", "y")],
        probe,
    )
    assert chain_body.scope("it-start").sequential
    assert branch.scope("it-start").sequential  # one edge per handle: one node at a time
    assert not fan_out.scope("it-start").sequential


async def test_sequential_pass_streams_text_before_its_node_finishes() -> None:
    probe = Probe()
    graph = _iteration(
        [
            _child("p", "probe", chunks=["a", "b"], delay=0.3, value=1),
            _child("inner", "answer", answer="[{{#p.text#}}]"),
        ],
        [edge("it-start", "p"), edge("p", "inner")],
        probe,
    )
    assert graph.scope("it-start").sequential
    timed = await _events(graph, [1])
    first_chunk = next(t for t, e in timed if isinstance(e, TextChunk) and e.text == "a")
    p_done = next(t for t, e in timed if isinstance(e, NodeFinished) and e.node_id == "p")
    assert p_done - first_chunk > 0.1  # "a" came out while p was still running
    texts = [e.text for _, e in timed if isinstance(e, TextChunk)]
    assert texts[:4] == ["[", "a", "b", "]"]


@pytest.mark.parametrize("kind", ["probe", "probe-instant"])
async def test_sequential_pass_retries_and_applies_error_strategies(kind: str) -> None:
    """The same for streaming and instant nodes (one attempt path for both)."""
    probe = Probe()
    retry = {"retry_enabled": True, "max_retries": 2, "retry_interval": 1}
    graph = _iteration(
        [
            _child("p", kind, fail_times=1, retry_config=retry, value=5),
            _child("q", kind, fail_times=-1, error_strategy="fail-branch"),
            _child("handler", kind, value="handled"),
        ],
        [edge("it-start", "p"), edge("p", "q"), edge("q", "handler", "fail-branch")],
        probe,
        output="handler",
    )
    assert graph.scope("it-start").sequential
    events = [e for _, e in await _events(graph, [1, 2])]
    retries = [e for e in events if isinstance(e, NodeRetry)]
    assert [(e.node_id, e.scope.iteration_index) for e in retries] == [("p", 0)]
    q_done = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "q"]
    assert [e.status for e in q_done] == ["exception", "exception"]
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == "succeeded"
    assert final.outputs["answer"] == "- handled\n- handled"
    assert probe.attempts == {"p": 3, "q": 2, "handler": 2}  # p failed once, then retried


async def test_sequential_pass_failure_fails_the_iteration() -> None:
    probe = Probe()
    graph = _iteration([_child("p", "probe", fail_times=-1)], [edge("it-start", "p")], probe)
    events = [e for _, e in await _events(graph, [1, 2])]
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == "failed"
    assert final.error == "p failed on attempt 1"
    assert probe.order("start") == ["p"]  # the second pass never started


async def test_fan_out_body_runs_its_branches_concurrently() -> None:
    probe = Probe()
    graph = _iteration(
        [_child("p", "probe", delay=0.15, value=1), _child("q", "probe", delay=0.15)],
        [edge("it-start", "p"), edge("it-start", "q")],
        probe,
    )
    timed = await _events(graph, [1, 2])
    final = timed[-1][1]
    assert isinstance(final, RunFinished) and final.status == "succeeded"
    assert timed[-1][0] < 0.5  # two passes of two 0.15 s branches, serial would be 0.6 s


async def test_cancelling_mid_pass_stops_the_body_node() -> None:
    probe = Probe()
    graph = _iteration([_child("p", "probe", delay=10)], [edge("it-start", "p")], probe)
    assert graph.scope("it-start").sequential

    async def consume() -> None:
        await collect(graph, inputs={"items": [1]})

    task = asyncio.create_task(consume())
    while probe.order("start") != ["p"]:  # noqa: ASYNC110 - polling a plain list
        await asyncio.sleep(0.001)
    began = time.monotonic()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert time.monotonic() - began < 0.1
    assert probe.order("end") == []
