"""Answer ordering: Dify's response coordinator semantics, with a streaming fake LLM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import NodeFinished, NodeStarted, RunFinished, TextChunk
from chatflow.providers.fake import FakeLLM
from tests.engine.conftest import Probe, build, chain, collect, edge, node, services

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "dsl"


def llm(node_id: str) -> dict[str, Any]:
    return node(
        node_id,
        "llm",
        model={
            "provider": "openai",
            "name": "gpt-4o-mini",
            "mode": "chat",
            "completion_params": {},
        },
        prompt_template=[
            {"role": "system", "text": "Be brief."},
            {"role": "user", "text": "{{#sys.query#}}"},
        ],
        context={"enabled": False, "variable_selector": []},
        vision={"enabled": False},
    )


def texts(events: list[Any]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextChunk)]


def position(events: list[Any], predicate: Any) -> int:
    return next(i for i, e in enumerate(events) if predicate(e))


async def test_answers_stream_in_order_and_llm_tokens_pass_through() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            llm("llm"),
            node("first", "answer", answer="Intro {{#llm.text#}} end"),
            node("quick", "probe", value=7),
            node("second", "answer", answer="second {{#quick.value#}}"),
        ],
        edges=[*chain("start", "llm", "first"), *chain("start", "quick", "second")],
        probe=probe,
    )
    fake = FakeLLM(["Hel", "lo", "!"], delay=0.01)
    events = await collect(graph, engine=services(llm=fake))
    assert texts(events) == ["Intro ", "Hel", "lo", "!", " end", "second ", "7"]
    llm_done = position(events, lambda e: isinstance(e, NodeFinished) and e.node_id == "llm")
    # The first answer opened before the LLM finished: intro and every token precede it.
    assert position(events, lambda e: isinstance(e, TextChunk) and e.text == "!") < llm_done
    assert position(events, lambda e: isinstance(e, TextChunk) and e.text == "Intro ") < llm_done
    # The second answer's node finished long before it was allowed to stream.
    quick_done = position(events, lambda e: isinstance(e, NodeFinished) and e.node_id == "second")
    assert quick_done < position(events, lambda e: isinstance(e, TextChunk) and e.text == "Hel")
    token = next(e for e in events if isinstance(e, TextChunk) and e.text == "lo")
    assert token.from_node_id == "llm" and token.from_variable_selector == ("llm", "text")
    final = events[-1]
    assert isinstance(final, RunFinished)
    assert final.outputs["answer"] == "second 7Intro Hello! end"  # node completion order


async def test_answer_behind_a_branch_waits_for_the_decision() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("pick", "probe", handle="yes", delay=0.02),
            node("yes", "answer", answer="yes!"),
            node("no", "answer", answer="no!"),
            node("always", "answer", answer="first "),
        ],
        edges=[
            edge("start", "pick"),
            edge("pick", "yes", "yes"),
            edge("pick", "no", "no"),
            edge("start", "always"),
        ],
        probe=probe,
    )
    events = await collect(graph)
    assert texts(events) == ["first ", "yes!"]
    # "first " needs no decision and streams at once; "yes!" only once pick has chosen.
    picking = position(events, lambda e: isinstance(e, NodeStarted) and e.node_id == "pick")
    assert position(events, lambda e: isinstance(e, TextChunk) and e.text == "first ") < picking
    assert position(events, lambda e: isinstance(e, TextChunk) and e.text == "yes!") > picking


async def test_non_streaming_value_waits_for_its_node() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("slow", "probe", delay=0.02, value=[1, 2]),
            node("answer", "answer", answer="list:\n{{#slow.value#}}\n{{#sys.query#}}"),
        ],
        edges=chain("start", "slow", "answer"),
        probe=probe,
    )
    events = await collect(graph)
    assert texts(events) == ["list:\n", "- 1\n- 2", "\n", "hello?"]
    slow_done = position(events, lambda e: isinstance(e, NodeFinished) and e.node_id == "slow")
    assert position(events, lambda e: isinstance(e, TextChunk)) < slow_done


async def test_workflow_end_node_streams_its_outputs() -> None:
    probe = Probe()
    graph = build(
        nodes=[
            node("start", "start"),
            node("p", "probe", value="x"),
            node(
                "end",
                "end",
                outputs=[
                    {"variable": "a", "value_selector": ["p", "value"]},
                    {"variable": "b", "value_selector": ["sys", "query"]},
                ],
            ),
        ],
        edges=chain("start", "p", "end"),
        probe=probe,
        mode="workflow",
    )
    events = await collect(graph)
    assert texts(events) == ["x", "\n", "hello?"]
    final = events[-1]
    assert isinstance(final, RunFinished) and final.outputs == {"a": "x", "b": "hello?"}


@pytest.mark.skipif(not CORPUS.exists(), reason="corpus not present")
async def test_answer_waits_for_assigner_that_writes_its_variable() -> None:
    app = load_app((CORPUS / "conv-var-overwrite-v1.yml").read_text())
    events = await collect(
        to_graph(app), query="new value", conversation=app.initial_conversation_variables()
    )
    assert "".join(texts(events)) == "Current Value Of `conv_var` is:new value"
