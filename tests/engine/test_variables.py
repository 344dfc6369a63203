"""VariablePool: selector lookups and forks (one per iteration/loop pass)."""

from __future__ import annotations

from chatflow.engine.files import File
from chatflow.engine.variables import MISSING, VariablePool


def _pool() -> VariablePool:
    pool = VariablePool(system={"query": "hi"}, conversation={"count": 1})
    pool.set_outputs("llm", {"text": "hello", "data": {"items": [1, 2, 3]}})
    return pool


def test_get_walks_dicts_lists_and_files() -> None:
    pool = _pool()
    pool.set("start", "doc", File("document", "local_file", id="f1", filename="a.txt"))
    assert pool.get(["llm", "data", "items", "-1"]) == 3
    assert pool.get(["start", "doc", "name"]) == "a.txt"
    assert pool.get(["llm", "missing"]) is MISSING
    assert pool.get(["llm", "data", "items", "9"], None) is None
    assert pool.get(["sys", "query"]) == "hi"


def test_fork_sees_the_parent_and_keeps_its_writes() -> None:
    parent = _pool()
    child = parent.fork()
    assert child.get(["llm", "text"]) == "hello"
    child.set("llm", "text", "changed")  # an existing scope: copied, not shared
    child.set_outputs("body", {"value": 1})  # a new scope
    child.set("it", "item", "x")
    assert parent.get(["llm", "text"]) == "hello"
    assert parent.get(["body", "value"]) is MISSING
    assert parent.get(["it", "item"]) is MISSING
    assert child.get(["llm", "text"]) == "changed"
    assert child.get(["llm", "data", "items"]) == [1, 2, 3]  # rest of the scope kept
    assert dict(child.node_outputs("body")) == {"value": 1}


def test_fork_shares_conversation_variables() -> None:
    parent = _pool()
    child = parent.fork()
    child.set("conversation", "count", 2)
    assert parent.get(["conversation", "count"]) == 2
    assert parent.conversation_variables() == {"count": 2}


def test_forks_of_forks_are_independent() -> None:
    parent = _pool()
    first = parent.fork()
    first.set("loop", "i", 1)
    second = first.fork()
    second.set("loop", "i", 2)
    sibling = parent.fork()
    sibling.set("loop", "i", 3)
    assert [p.get(["loop", "i"]) for p in (parent, first, second, sibling)] == [
        MISSING,
        1,
        2,
        3,
    ]
