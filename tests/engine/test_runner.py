"""The runner: Dify's traversal, concurrency, error strategies, retries, limits, stop."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from typing import Any, NoReturn

import pytest

from chatflow.engine import runner
from chatflow.engine.events import (
    Event,
    NodeFinished,
    NodeRetry,
    NodeStarted,
    RunFinished,
    RunStarted,
    TextChunk,
)
from chatflow.engine.graph import Graph
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from tests.engine.conftest import Probe, build, chain, collect, edge, node, services


def finished(events: list[object]) -> dict[str, NodeFinished]:
    return {e.node_id: e for e in events if isinstance(e, NodeFinished)}


def run_end(events: list[object]) -> RunFinished:
    last = events[-1]
    assert isinstance(last, RunFinished)
    return last


async def test_linear_run_emits_dify_event_sequence() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("p", "probe", value=7),
            node("answer", "answer", answer="got {{#p.value#}}"),
        ],
        edges=chain("start", "p", "answer"),
        probe=probe,
    )
    events = await collect(graph)
    assert isinstance(events[0], RunStarted)
    assert events[0].inputs["sys.query"] == "hello?"
    started = [e for e in events if isinstance(e, NodeStarted)]
    assert [(e.node_id, e.index, e.predecessor_node_id) for e in started] == [
        ("start", 1, None),
        ("p", 2, "start"),
        ("answer", 3, "p"),
    ]
    done = finished(events)
    assert done["p"].outputs["value"] == 7 and done["p"].status == "succeeded"
    assert done["start"].outputs["sys.query"] == "hello?"
    end = run_end(events)
    assert end.status == "succeeded" and end.total_steps == 3 and end.error is None
    assert end.outputs["answer"] == "got 7"
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == "got 7"


async def test_branch_skips_the_arm_not_taken_and_joins() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("pick", "probe", handle="yes"),
            node("a", "probe", value="A"),
            node("a2", "probe"),
            node("b", "probe", value="B"),
            node("b2", "probe"),
            node("join", "probe"),
            node("answer", "answer", answer="{{#a.value#}}{{#b.value#}}"),
        ],
        edges=[
            edge("start", "pick"),
            edge("pick", "a", "yes"),
            edge("pick", "b", "no"),
            *chain("a", "a2", "join"),
            *chain("b", "b2", "join"),
            edge("join", "answer"),
        ],
        probe=probe,
    )
    events = await collect(graph)
    assert probe.order("end") == ["pick", "a", "a2", "join"]
    assert "b" not in finished(events) and "b2" not in finished(events)
    # The skipped arm's reference streams nothing (Dify's coordinator skips it).
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == "A"
    assert run_end(events).outputs["answer"].startswith("A")


async def test_node_after_only_skipped_edges_is_skipped() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("pick", "probe", handle="left"),
            node("right", "probe"),
            node("after", "probe"),
        ],
        edges=[edge("start", "pick"), edge("pick", "right", "right"), edge("right", "after")],
        probe=probe,
    )
    events = await collect(graph)
    assert probe.order("start") == ["pick"]
    assert run_end(events).status == "succeeded"


async def test_parallel_branches_run_concurrently() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("x", "probe", delay=0.05),
            node("y", "probe", delay=0.05),
            node("join", "probe"),
        ],
        edges=[edge("start", "x"), edge("start", "y"), edge("x", "join"), edge("y", "join")],
        probe=probe,
    )
    await collect(graph)
    # Both branches started before either finished, and the join waited for both.
    assert probe.log[:2] == [("start", "x"), ("start", "y")]
    assert probe.log[-2:] == [("start", "join"), ("end", "join")]


async def test_failure_without_strategy_fails_the_run() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("bad", "probe", fail_times=-1),
            node("slow", "probe", delay=5),
            node("after", "probe"),
        ],
        edges=[edge("start", "bad"), edge("start", "slow"), edge("bad", "after")],
        probe=probe,
    )
    began = time.monotonic()
    events = await collect(graph)
    assert time.monotonic() - began < 1  # the slow sibling was cancelled
    bad = finished(events)["bad"]
    assert bad.status == "failed" and bad.error == "bad failed on attempt 1"
    assert bad.error_type == "ProbeError"
    end = run_end(events)
    assert end.status == "failed" and end.error == "bad failed on attempt 1"
    assert "after" not in probe.order("start")


async def test_fail_branch_strategy_follows_the_fail_handle() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("bad", "probe", fail_times=-1, error_strategy="fail-branch"),
            node("ok", "probe"),
            node("recover", "probe"),
            node("answer", "answer", answer="{{#bad.error_message#}}"),
        ],
        edges=[
            edge("start", "bad"),
            edge("bad", "ok"),
            edge("bad", "recover", "fail-branch"),
            edge("recover", "answer"),
        ],
        probe=probe,
    )
    events = await collect(graph)
    bad = finished(events)["bad"]
    assert bad.status == "exception" and bad.handle == "fail-branch"
    assert bad.outputs == {"error_message": "bad failed on attempt 1", "error_type": "ProbeError"}
    assert "ok" not in probe.order("start") and "recover" in probe.order("end")
    end = run_end(events)
    assert end.status == "partial-succeeded" and end.exceptions_count == 1
    assert end.outputs["answer"] == "bad failed on attempt 1"


async def test_default_value_strategy_continues_with_defaults() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node(
                "bad",
                "probe",
                fail_times=-1,
                error_strategy="default-value",
                default_value=[{"key": "value", "type": "number", "value": "42"}],
            ),
            node("answer", "answer", answer="{{#bad.value#}}"),
        ],
        edges=chain("start", "bad", "answer"),
        probe=probe,
    )
    events = await collect(graph)
    bad = finished(events)["bad"]
    assert bad.status == "exception"
    assert bad.outputs["value"] == 42 and bad.outputs["error_type"] == "ProbeError"
    end = run_end(events)
    assert end.status == "partial-succeeded" and end.outputs["answer"] == "42"


async def test_retries_then_succeeds() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node(
                "flaky",
                "probe",
                fail_times=2,
                value="ok",
                retry_config={"retry_enabled": True, "max_retries": 3, "retry_interval": 1},
            ),
        ],
        edges=chain("start", "flaky"),
        probe=probe,
    )
    events = await collect(graph)
    retries = [e for e in events if isinstance(e, NodeRetry)]
    assert [r.retry_index for r in retries] == [1, 2]
    assert retries[0].error == "flaky failed on attempt 1"
    assert finished(events)["flaky"].status == "succeeded"
    assert probe.attempts["flaky"] == 3
    assert run_end(events).status == "succeeded"


async def test_retries_exhausted_fail_the_node() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node(
                "flaky",
                "probe",
                fail_times=-1,
                retry_config={"retry_enabled": True, "max_retries": 2, "retry_interval": 0},
            ),
        ],
        edges=chain("start", "flaky"),
        probe=probe,
    )
    events = await collect(graph)
    assert probe.attempts["flaky"] == 3
    assert run_end(events).error == "flaky failed on attempt 3"


async def test_step_limit_fails_the_run() -> None:
    probe = Probe()
    ids = [f"n{i}" for i in range(10)]
    graph = build(
        nodes=[node("start", "start"), *(node(i, "probe") for i in ids)],
        edges=chain("start", *ids),
        probe=probe,
    )
    events = await collect(graph, engine=services(max_steps=5))
    end = run_end(events)
    assert end.status == "failed"
    assert end.error == "Maximum execution steps exceeded: 6 > 5"
    assert len(probe.order("end")) == 4


async def test_time_limit_fails_the_run() -> None:
    probe = Probe()
    graph = build(
        nodes=[node("start", "start"), node("slow", "probe", delay=5)],
        edges=chain("start", "slow"),
        probe=probe,
    )
    events = await collect(graph, engine=services(max_run_seconds=0.05))
    end = run_end(events)
    assert end.status == "failed" and end.error is not None
    assert end.error.startswith("Maximum execution time exceeded")


async def test_cancelling_the_consumer_stops_the_run_promptly() -> None:
    probe = Probe()
    graph = build(
        nodes=[node("start", "start"), node("a", "probe", delay=10), node("b", "probe", delay=10)],
        edges=[edge("start", "a"), edge("start", "b")],
        probe=probe,
    )
    seen: list[object] = []

    async def consume() -> None:
        pool = VariablePool(system={"query": "q"})
        async for event in run_graph(graph, pool=pool, services=services()):
            seen.append(event)

    task = asyncio.create_task(consume())
    while probe.order("start") != ["a", "b"]:  # noqa: ASYNC110 - polling a plain list
        await asyncio.sleep(0.001)
    began = time.monotonic()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert time.monotonic() - began < 0.1
    assert probe.order("end") == []
    assert not any(isinstance(e, RunFinished) for e in seen)


async def test_start_node_types_inputs() -> None:
    graph = build(
        nodes=[
            node(
                "start",
                "start",
                variables=[
                    {"variable": "n", "type": "number", "label": "N", "required": True},
                    {"variable": "name", "type": "text-input", "label": "Name", "default": "x"},
                ],
            ),
            node("answer", "answer", answer="{{#start.n#}}/{{#start.name#}}"),
        ],
        edges=chain("start", "answer"),
    )
    events = await collect(graph, inputs={"n": "3"})
    assert finished(events)["start"].outputs["n"] == 3
    assert run_end(events).outputs["answer"] == "3/x"
    failed = await collect(graph, inputs={})
    assert run_end(failed).error == "n is required in input form"


async def test_leaving_the_loop_early_cancels_the_run() -> None:
    probe = Probe()
    graph = build(
        nodes=[node("start", "start"), node("slow", "probe", delay=10)],
        edges=chain("start", "slow"),
        probe=probe,
    )
    pool = VariablePool(system={"query": "q"})
    began = time.monotonic()
    async with aclosing(run_graph(graph, pool=pool, services=services())) as events:
        async for event in events:
            if isinstance(event, NodeStarted) and event.node_id == "slow":
                break
    await asyncio.sleep(0)
    assert time.monotonic() - began < 0.5
    assert probe.order("start") == ["slow"] and probe.order("end") == []


def _instant_graph(case: str, probe: Probe) -> Graph:
    """Graphs whose every node is instant and never retried (`ScopeRun.drive_now`)."""
    p = "probe-instant"
    if case == "fan-out":
        nodes = [node("start", "start"), node("x", p, value="X"), node("y", p, value="Y")]
        nodes += [node("x2", p), node("join", p), node("z", p)]
        nodes.append(node("answer", "answer", answer="{{#x.value#}}{{#y.value#}}"))
        edges = [edge("start", "x"), edge("start", "y"), edge("start", "z"), edge("x", "x2")]
        edges += [edge("x2", "join"), edge("y", "join"), edge("join", "answer")]
    elif case == "fail-branch":
        nodes = [node("start", "start"), node("bad", p, fail_times=-1, error_strategy=case)]
        nodes += [node("ok", p), node("recover", p)]
        nodes.append(node("answer", "answer", answer="{{#bad.error_message#}}"))
        edges = [edge("start", "bad"), edge("bad", "ok"), edge("bad", "recover", case)]
        edges.append(edge("recover", "answer"))
    elif case == "default-value":
        default = [{"key": "value", "type": "number", "value": "42"}]
        bad = node("bad", p, fail_times=-1, error_strategy=case, default_value=default)
        nodes = [node("start", "start"), bad, node("answer", "answer", answer="{{#bad.value#}}")]
        edges = chain("start", "bad", "answer")
    else:  # a failure with no error strategy ends the run
        nodes = [node("start", "start"), node("a", p), node("bad", p, fail_times=-1)]
        nodes += [node("b", p), node("answer", "answer", answer="never")]
        edges = [edge("start", "a"), edge("start", "bad"), edge("a", "b"), edge("b", "answer")]
    return build(nodes=nodes, edges=edges, probe=probe)


def _shape(events: list[Event]) -> list[tuple[object, ...]]:
    """What two runs of one graph share: everything but ids and times."""
    return [
        (
            type(e).__name__,
            *(getattr(e, name, None) for name in ("node_id", "index", "predecessor_node_id")),
            *(getattr(e, name, None) for name in ("status", "outputs", "error", "text")),
            getattr(e, "total_steps", None),
        )
        for e in events
    ]


@pytest.mark.parametrize("case", ["fan-out", "fail-branch", "default-value", "failure"])
async def test_an_all_instant_run_goes_in_the_callers_task_as_the_task_group_runs_it(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_task(*_: object) -> NoReturn:
        raise AssertionError("an all-instant run needs no driver task")

    now = Probe()
    with monkeypatch.context() as patch:
        patch.setattr(runner, "drain", no_task)
        events = await collect(_instant_graph(case, now))
    grouped = Probe()
    monkeypatch.setattr(runner, "_runs_now", lambda graph: False)
    expected = await collect(_instant_graph(case, grouped))
    assert _shape(events) == _shape(expected) and now.log == grouped.log
    assert run_end(events).status == {"fan-out": "succeeded", "failure": "failed"}.get(
        case, "partial-succeeded"
    )


async def test_a_retried_instant_node_keeps_the_task_group_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A retry waits `retry_interval` (an await), so the run is not driven in place."""
    used: list[bool] = []
    drain = runner.drain

    def counted(*args: Any) -> Any:
        used.append(True)
        return drain(*args)

    monkeypatch.setattr(runner, "drain", counted)
    retry = {"retry_enabled": True, "max_retries": 1, "retry_interval": 1}
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("n", "probe-instant", fail_times=1, retry_config=retry),
        ],
        edges=chain("start", "n"),
        probe=probe,
    )
    events = await collect(graph)
    assert used and run_end(events).status == "succeeded"
    assert [type(e).__name__ for e in events if isinstance(e, NodeRetry)] == ["NodeRetry"]
