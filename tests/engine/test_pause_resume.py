"""Pausing at human-input nodes and resuming: branches by action, timeout, parallel work,
several forms, and a state that survives a JSON round trip."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from chatflow.engine.events import (
    Event,
    HumanInputFormFilled,
    HumanInputFormTimeout,
    HumanInputRequired,
    NodeFinished,
    NodeStarted,
    RunFinished,
    RunPaused,
    RunStarted,
    TextChunk,
)
from chatflow.engine.graph import Graph
from chatflow.engine.nodes.human_input import FormSubmission, FormTimeout
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from tests.engine.conftest import Probe, build, chain, edge, node, services

ACTIONS = [
    {"id": "approve", "title": "Approve", "button_style": "primary"},
    {"id": "reject", "title": "Reject"},
]


def human(node_id: str = "hi", **data: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "form_content": "Review {{#start.topic#}}: {{#$output.comment#}}",
        "inputs": [
            {
                "type": "paragraph",
                "output_variable_name": "comment",
                "default": {"type": "variable", "selector": ["start", "topic"], "value": ""},
            }
        ],
        "user_actions": ACTIONS,
        "timeout": 1,
        "timeout_unit": "day",
        "delivery_methods": [{"type": "webapp", "enabled": True}],
    }
    config.update(data)
    return node(node_id, "human-input", **config)


def review_graph(*, timeout_edge: bool = True) -> Graph:
    nodes = [
        node("start", "start", variables=[]),
        node("draft", "answer", answer="Draft about {{#start.topic#}}. "),
        human(),
        node("ok", "answer", answer="Approved: {{#hi.comment#}}"),
        node("no", "answer", answer="Rejected ({{#hi.__action_value#}})"),
    ]
    edges = [
        *chain("start", "draft", "hi"),
        edge("hi", "ok", "approve"),
        edge("hi", "no", "reject"),
    ]
    if timeout_edge:
        nodes.append(node("late", "answer", answer="Nobody answered."))
        edges.append(edge("hi", "late", "__timeout"))
    return build(nodes=nodes, edges=edges)


def fresh_pool() -> VariablePool:
    return VariablePool(system={"query": "q", "files": []}, environment={"secret": "s"})


async def first_run(graph: Graph) -> list[Event]:
    return [
        e
        async for e in run_graph(
            graph, pool=fresh_pool(), services=services(), inputs={"topic": "cats"}
        )
    ]


async def resume(
    graph: Graph, state: Mapping[str, Any], decisions: Mapping[str, Any]
) -> list[Event]:
    # Through JSON, as the server stores it.
    stored = json.loads(json.dumps(state))
    return [
        e
        async for e in run_graph(
            graph,
            pool=fresh_pool(),
            services=services(),
            resume_from=stored,
            resume_input=decisions,
        )
    ]


def text(events: Sequence[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextChunk))


def paused(events: Sequence[Event]) -> RunPaused:
    last = events[-1]
    assert isinstance(last, RunPaused), last
    return last


async def test_reaching_the_node_pauses_with_the_form() -> None:
    events = await first_run(review_graph())
    assert not any(isinstance(e, RunFinished) for e in events)
    assert text(events) == "Draft about cats. "
    form = events[-2]
    assert isinstance(form, HumanInputRequired)
    assert form.node_id == "hi" and form.title == "hi"
    # Variables rendered, output placeholders kept for the client to fill.
    assert form.form_content == "Review cats: {{#$output.comment#}}"
    assert form.resolved_default_values == {"comment": "cats"}
    assert [a["id"] for a in form.actions] == ["approve", "reject"]
    assert form.inputs[0]["output_variable_name"] == "comment"
    assert form.form_token and form.form_id and form.display_in_ui
    assert form.timeout_at is not None and form.timeout_at > events[0].started_at + 86000
    pause = paused(events)
    assert pause.paused_nodes == ["hi"]
    assert pause.reasons[0]["TYPE"] == "human_input_required"
    assert pause.reasons[0]["form_id"] == form.form_id
    assert pause.reasons[0]["form_token"] == form.form_token
    # The paused node started but did not finish; nothing after it ran.
    started = [e.node_id for e in events if isinstance(e, NodeStarted)]
    finished = [e.node_id for e in events if isinstance(e, NodeFinished)]
    assert started == ["start", "draft", "hi"] and finished == ["start", "draft"]
    assert "secret" not in json.dumps(pause.state)  # env is never stored


async def test_submitting_an_action_takes_its_branch() -> None:
    graph = review_graph()
    pause = paused(await first_run(graph))
    events = await resume(graph, pause.state, {"hi": FormSubmission("approve", {"comment": "ok!"})})
    start = events[0]
    assert isinstance(start, RunStarted) and start.reason == "resumption"
    assert start.run_id == pause.run_id
    filled = next(e for e in events if isinstance(e, HumanInputFormFilled))
    assert filled.action_id == "approve" and filled.action_text == "Approve"
    assert filled.rendered_content == "Review cats: ok!"
    assert filled.submitted_data == {"comment": "ok!"}
    done = {e.node_id: e for e in events if isinstance(e, NodeFinished)}
    assert set(done) == {"hi", "ok"}
    assert done["hi"].handle == "approve"
    assert done["hi"].outputs == {
        "comment": "ok!",
        "__action_id": "approve",
        "__action_value": "Approve",
        "__rendered_content": "Review cats: ok!",
    }
    # Text sent before the pause is not sent again.
    assert text(events) == "Approved: ok!"
    end = events[-1]
    assert isinstance(end, RunFinished) and end.status == "succeeded"
    assert end.outputs["answer"] == "Draft about cats. Approved: ok!"
    assert end.total_steps == 5  # start, draft, hi (paused), hi (resumed), ok
    assert end.started_at == pause.started_at


async def test_the_step_limit_spans_the_pause() -> None:
    graph = review_graph()
    pause = paused(await first_run(graph))
    assert pause.state["budget_used"] == 3  # start, draft, hi
    stored = json.loads(json.dumps(pause.state))
    events = [
        e
        async for e in run_graph(
            graph, pool=fresh_pool(), services=services(max_steps=4), resume_from=stored,
            resume_input={"hi": FormSubmission("approve", {"comment": "ok!"})},
        )
    ]  # fmt: skip
    end = events[-1]
    assert isinstance(end, RunFinished) and end.status == "failed"
    assert end.error == "Maximum execution steps exceeded: 5 > 4"  # hi again, then ok


async def test_another_action_takes_the_other_branch() -> None:
    graph = review_graph()
    pause = paused(await first_run(graph))
    events = await resume(graph, pause.state, {"hi": FormSubmission("reject", {"comment": ""})})
    assert text(events) == "Rejected (Reject)"
    ran = {e.node_id for e in events if isinstance(e, NodeFinished)}
    assert ran == {"hi", "no"}


async def test_timeout_follows_the_timeout_branch() -> None:
    graph = review_graph()
    pause = paused(await first_run(graph))
    expired = pause.started_at + 5
    events = await resume(graph, pause.state, {"hi": FormTimeout(expired)})
    timeout = next(e for e in events if isinstance(e, HumanInputFormTimeout))
    assert timeout.node_id == "hi" and timeout.expiration_time == expired
    hi = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == "hi")
    assert hi.handle == "__timeout"
    assert hi.outputs["__action_id"] == "" and hi.outputs["__action_value"] == ""
    assert hi.outputs["__rendered_content"] == "Review cats: {{#$output.comment#}}"
    assert text(events) == "Nobody answered."
    assert isinstance(events[-1], RunFinished) and events[-1].status == "succeeded"


async def test_timeout_without_a_timeout_branch_ends_the_run() -> None:
    graph = review_graph(timeout_edge=False)
    pause = paused(await first_run(graph))
    events = await resume(graph, pause.state, {"hi": FormTimeout(pause.started_at)})
    assert text(events) == ""
    end = events[-1]
    assert isinstance(end, RunFinished) and end.status == "succeeded"
    assert end.outputs["answer"] == "Draft about cats. "


async def test_an_invalid_submission_fails_the_node() -> None:
    graph = review_graph()
    pause = paused(await first_run(graph))
    events = await resume(graph, pause.state, {"hi": FormSubmission("maybe", {"comment": "x"})})
    end = events[-1]
    assert isinstance(end, RunFinished) and end.status == "failed"
    assert end.error == "Invalid action: maybe"


async def test_resuming_a_node_that_is_not_waiting_is_refused() -> None:
    graph = review_graph()
    pause = paused(await first_run(graph))
    with pytest.raises(ValueError, match="not waiting"):
        await resume(graph, pause.state, {"draft": FormSubmission("approve", {})})


async def test_running_branches_finish_and_their_successors_wait_for_the_resume() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start", variables=[]),
            node("slow", "probe", delay=0.05, value=1),
            node("after", "probe", value=2),
            human(),
            node("ok", "answer", answer="{{#after.value#}} {{#hi.comment#}}"),
        ],
        edges=[
            *chain("start", "slow", "after", "ok"),
            edge("start", "hi"),
            edge("hi", "ok", "approve"),
        ],
        probe=probe,
    )
    pause = paused(await first_run(graph))
    # The in-flight node finished; the one after it did not start.
    assert probe.order("end") == ["slow"]
    events = await resume(graph, pause.state, {"hi": FormSubmission("approve", {"comment": "c"})})
    assert probe.order("end") == ["slow", "after"]
    assert text(events) == "2 c"
    assert isinstance(events[-1], RunFinished) and events[-1].status == "succeeded"


async def test_two_forms_resume_one_at_a_time() -> None:
    graph = build(
        nodes=[
            node("start", "start", variables=[]),
            human("a", form_content="A", inputs=[]),
            human("b", form_content="B", inputs=[]),
            node("end_a", "answer", answer="[a:{{#a.__action_id#}}]"),
            node("end_b", "answer", answer="[b:{{#b.__action_id#}}]"),
        ],
        edges=[
            edge("start", "a"),
            edge("start", "b"),
            edge("a", "end_a", "approve"),
            edge("b", "end_b", "reject"),
        ],
    )
    first = paused(await first_run(graph))
    assert sorted(first.paused_nodes) == ["a", "b"]
    forms = {r["node_id"]: r["form_id"] for r in first.reasons}

    second_events = await resume(graph, first.state, {"a": FormSubmission("approve", {})})
    second = paused(second_events)
    assert second.paused_nodes == ["b"]
    # The waiting form is the same form, sent again with the new pause.
    assert second.reasons[0]["form_id"] == forms["b"]
    assert not any(isinstance(e, NodeStarted) and e.node_id == "b" for e in second_events)

    third = await resume(graph, second.state, {"b": FormSubmission("reject", {})})
    end = third[-1]
    assert isinstance(end, RunFinished) and end.status == "succeeded"
    assert end.outputs["answer"] == "[a:approve][b:reject]"
