"""Graph structure checks at import time: one start, real edges, no cycles, containers."""

from __future__ import annotations

import pytest

from chatflow.errors import DSLError
from tests.engine.conftest import build, chain, edge, node


def test_scopes_are_precomputed_in_topological_order() -> None:
    graph = build(
        nodes=[
            node("start", "start"),
            node("b", "answer", answer="b"),
            node("a", "answer", answer="a"),
        ],
        edges=[edge("start", "a"), edge("a", "b")],
    )
    scope = graph.root
    assert scope.order == ("start", "a", "b")
    assert scope.responses == ("a", "b")
    assert scope.in_count == {"start": 0, "a": 1, "b": 1}


def test_unreachable_nodes_do_not_block_a_join() -> None:
    graph = build(
        nodes=[node("start", "start"), node("orphan", "answer"), node("a", "answer")],
        edges=[edge("start", "a"), edge("orphan", "a")],
    )
    assert graph.root.members == {"start", "a"}
    assert graph.root.in_count["a"] == 1


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        ([node("a", "answer")], [], "exactly one start node, found 0"),
        ([node("s", "start"), node("t", "start")], [], "exactly one start node, found 2"),
        ([node("s", "start")], [edge("s", "ghost")], "target node ghost does not exist"),
        (
            [node("s", "start"), node("a", "answer"), node("b", "answer")],
            [*chain("s", "a", "b"), edge("b", "a")],
            "node a (answer): the graph has a cycle",
        ),
        ([node("s", "start"), node("s", "answer")], [], "node s (answer): duplicate node id"),
    ],
)
def test_invalid_graphs_raise_dsl_errors(nodes: list, edges: list, message: str) -> None:
    with pytest.raises(DSLError) as caught:
        build(nodes=nodes, edges=edges)
    assert message in str(caught.value)


def test_edges_may_not_cross_a_container() -> None:
    inner = node("inner", "answer", answer="x")
    inner["parentId"] = "box"
    nodes = [node("s", "start"), node("box", "loop", start_node_id="inner"), inner]
    with pytest.raises(DSLError, match="across a container boundary"):
        build(nodes=nodes, edges=[edge("s", "inner")])


def test_container_must_start_inside_itself() -> None:
    nodes = [node("s", "start"), node("box", "loop", start_node_id="s")]
    with pytest.raises(DSLError, match=r"node box \(loop\): start_node_id"):
        build(nodes=nodes, edges=[edge("s", "box")])
