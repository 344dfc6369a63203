"""answer and end nodes: outputs rendered from the pool."""

from __future__ import annotations

from chatflow.engine.events import NodeFinished
from chatflow.engine.files import File
from tests.engine.conftest import build, chain, collect, node


async def test_answer_renders_markdown_and_collects_files() -> None:
    graph = build(
        nodes=[
            node(
                "start",
                "start",
                variables=[
                    {"variable": "doc", "type": "file"},
                    {"variable": "tags", "type": "json"},
                ],
            ),
            node("answer", "answer", answer="{{#start.tags#}} {{#start.doc#}}"),
        ],
        edges=chain("start", "answer"),
    )
    doc = File(
        type="document", transfer_method="remote_url", url="http://x/a.pdf", filename="a.pdf"
    )
    events = await collect(graph, inputs={"doc": doc, "tags": ["a", "b"]})
    answer = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == "answer")
    assert answer.outputs == {"answer": "- a\n- b [a.pdf](http://x/a.pdf)", "files": [doc]}


async def test_end_outputs_read_their_selectors() -> None:
    graph = build(
        nodes=[
            node("start", "start", variables=[{"variable": "n", "type": "number"}]),
            node(
                "end",
                "end",
                outputs=[
                    {"variable": "out", "value_selector": ["start", "n"]},
                    {"variable": "gone", "value_selector": ["x", "y"]},
                ],
            ),
        ],
        edges=chain("start", "end"),
        mode="workflow",
    )
    events = await collect(graph, inputs={"n": 4})
    end = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == "end")
    assert end.outputs == {"out": 4, "gone": None}
