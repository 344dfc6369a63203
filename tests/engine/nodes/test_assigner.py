"""assigner: v1 write modes, v2 operations with Dify's type rules, conversation events."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.engine.events import ConversationVariableUpdated
from chatflow.engine.nodes import assigner, spec_for
from chatflow.errors import NodeError


def _item(
    name: str,
    operation: str,
    value: Any = None,
    input_type: str = "constant",
    scope: str = "conversation",
) -> dict[str, Any]:
    return {
        "variable_selector": [scope, name],
        "input_type": input_type,
        "operation": operation,
        "value": value,
        "write_mode": "over-write",
    }


async def _v2(
    make_ctx: Any, run_node: Any, current: Any, *items: dict[str, Any], **ctx: Any
) -> Any:
    context = make_ctx(conversation={"v": current}, **ctx)
    result, events = await run_node(assigner, context, {"version": "2", "items": list(items)})
    return context, result, events


# --- version 1 -------------------------------------------------------------------------


async def test_v1_over_write_from_sys_query(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(conversation={"conv_var": "old"}, system={"query": "new text"})
    data = {
        "assigned_variable_selector": ["conversation", "conv_var"],
        "input_variable_selector": ["sys", "query"],
        "write_mode": "over-write",
    }
    result, events = await run_node(assigner, ctx, data)
    assert events == [ConversationVariableUpdated("conv_var", "new text")]
    assert ctx.pool.get(["conversation", "conv_var"]) == "new text"
    assert result.inputs == {"value": "new text"}
    assert result.outputs == {}
    assert result.process_data["__updated_variables"] == [
        {
            "name": "conv_var",
            "selector": ["conversation", "conv_var"],
            "value_type": "string",
            "new_value": "new text",
        }
    ]


async def test_v1_append_and_clear(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(conversation={"log": ["a"]}, nodes={"llm": {"text": "b"}})
    data = {
        "assigned_variable_selector": ["conversation", "log"],
        "input_variable_selector": ["llm", "text"],
        "write_mode": "append",
    }
    await run_node(assigner, ctx, data)
    assert ctx.pool.get(["conversation", "log"]) == ["a", "b"]
    _, events = await run_node(assigner, ctx, {**data, "write_mode": "clear"})
    assert events == [ConversationVariableUpdated("log", [])]
    assert ctx.pool.get(["conversation", "log"]) == []


@pytest.mark.parametrize(
    ("current", "mode", "source", "message"),
    [
        ("text", "append", ["llm", "text"], "append mode requires an array variable"),
        ("text", "over-write", ["llm", "missing"], "input value not found"),
    ],
)
async def test_v1_errors(
    make_ctx: Any, run_node: Any, current: Any, mode: str, source: list[str], message: str
) -> None:
    ctx = make_ctx(conversation={"v": current}, nodes={"llm": {"text": "b"}})
    data = {
        "assigned_variable_selector": ["conversation", "v"],
        "input_variable_selector": source,
        "write_mode": mode,
    }
    with pytest.raises(NodeError, match=message):
        await run_node(assigner, ctx, data)
    assert ctx.pool.get(["conversation", "v"]) == current


async def test_v1_missing_target(make_ctx: Any, run_node: Any) -> None:
    data = {
        "assigned_variable_selector": ["conversation", "nope"],
        "input_variable_selector": ["sys", "query"],
        "write_mode": "over-write",
    }
    with pytest.raises(NodeError, match=r"Variable \['conversation', 'nope'\] not found"):
        await run_node(assigner, make_ctx(system={"query": "q"}), data)


# --- version 2 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "operation", "value", "expected"),
    [
        ("old", "over-write", "new", "new"),
        ("old", "set", "new", "new"),
        ("old", "clear", None, ""),
        (5, "set", 7, 7),
        (5, "+=", 2, 7),
        (5, "-=", 2, 3),
        (5, "*=", 2.5, 12.5),
        (5, "/=", 2, 2.5),
        (5, "clear", None, 0),
        (True, "set", False, False),
        (True, "clear", None, False),
        ({"a": 1}, "set", {"b": 2}, {"b": 2}),
        ({"a": 1}, "set", '{"c": 3}', {"c": 3}),
        ({"a": 1}, "clear", None, {}),
        (["a"], "over-write", ["x", "y"], ["x", "y"]),
        (["a"], "clear", None, []),
        (["a", "b", "c"], "remove-first", None, ["b", "c"]),
        (["a", "b", "c"], "remove-last", None, ["a", "b"]),
        ([], "remove-first", None, []),
        ([1, 2], "clear", None, []),
    ],
)
async def test_v2_operations(
    make_ctx: Any, run_node: Any, current: Any, operation: str, value: Any, expected: Any
) -> None:
    # Dify's editor leaves input_type "variable" on operations that take no value, and
    # arrays can only be over-written from a variable.
    if value is None or isinstance(current, list):
        item = _item("v", operation, ["src", "out"], input_type="variable")
    else:
        item = _item("v", operation, value)
    ctx, result, events = await _v2(
        make_ctx, run_node, current, item, nodes={"src": {"out": value}}
    )
    assert ctx.pool.get(["conversation", "v"]) == expected
    assert events == [ConversationVariableUpdated("v", expected)]
    assert result.process_data["v"] == expected
    assert result.inputs["version"] == "2"


@pytest.mark.parametrize(
    ("current", "operation", "source", "expected"),
    [
        (["a"], "append", "b", ["a", "b"]),
        ([], "append", {"k": 1}, [{"k": 1}]),
        ([1], "append", 2, [1, 2]),
        (["a"], "extend", ["b", "c"], ["a", "b", "c"]),
        ([1], "extend", [2, 3], [1, 2, 3]),
        ("old", "over-write", "new", "new"),
        (1, "over-write", 2, 2),
        ({"a": 1}, "over-write", {"b": 1}, {"b": 1}),
    ],
)
async def test_v2_variable_operations(
    make_ctx: Any, run_node: Any, current: Any, operation: str, source: Any, expected: Any
) -> None:
    item = _item("v", operation, ["src", "out"], input_type="variable")
    ctx, _, _ = await _v2(make_ctx, run_node, current, item, nodes={"src": {"out": source}})
    assert ctx.pool.get(["conversation", "v"]) == expected


@pytest.mark.parametrize(
    ("current", "item", "message"),
    [
        ("s", _item("v", "+=", 1), "Operation \\+= is not supported for type string"),
        ("s", _item("v", "append", "x"), "Operation append is not supported for type string"),
        (1, _item("v", "extend", [1]), "Operation extend is not supported for type number"),
        ([1], _item("v", "set", [2]), "Operation set is not supported for type array\\[number\\]"),
        (
            1,
            _item("v", "+=", ["src", "out"], "variable"),
            "Input type variable is not supported for operation \\+=",
        ),
        (
            ["a"],
            _item("v", "append", "x"),
            "Input type constant is not supported for operation append",
        ),
        (1, _item("v", "/=", 0), "Invalid input value 0"),
        (1, _item("v", "+=", "2"), "Invalid input value 2"),
        ("s", _item("v", "set", 3), "Invalid input value 3"),
        (True, _item("v", "over-write", "true"), "Invalid input value true"),
        ({"a": 1}, _item("v", "set", "{not json"), "Invalid input value"),
        (["a"], _item("v", "append", ["src", "num"], "variable"), "Invalid input value 5"),
        (["a"], _item("v", "extend", ["src", "out"], "variable"), "Invalid input value"),
        (
            "s",
            _item("v", "over-write", ["src", "gone"], "variable"),
            "Variable \\['src', 'gone'\\] not found",
        ),
        ("s", _item("missing", "set", "x"), "Variable \\['conversation', 'missing'\\] not found"),
    ],
)
async def test_v2_type_rules(
    make_ctx: Any, run_node: Any, current: Any, item: dict[str, Any], message: str
) -> None:
    with pytest.raises(NodeError, match=message):
        await _v2(make_ctx, run_node, current, item, nodes={"src": {"out": "x", "num": 5}})


async def test_v2_failure_writes_nothing(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(conversation={"a": 1, "b": "s"})
    items = [_item("a", "+=", 1), _item("b", "+=", 1)]
    with pytest.raises(NodeError):
        await run_node(assigner, ctx, {"version": "2", "items": items})
    assert ctx.pool.conversation_variables() == {"a": 1, "b": "s"}


async def test_v2_reads_its_own_earlier_writes(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(conversation={"n": 1, "copy": 0})
    items = [
        _item("n", "+=", 10),
        _item("n", "*=", 2),
        _item("copy", "over-write", ["conversation", "n"], "variable"),
    ]
    result, events = await run_node(assigner, ctx, {"version": "2", "items": items})
    assert ctx.pool.conversation_variables() == {"n": 22, "copy": 22}
    assert events == [
        ConversationVariableUpdated("n", 22),
        ConversationVariableUpdated("copy", 22),
    ]
    assert [u["name"] for u in result.process_data["__updated_variables"]] == ["n", "copy"]


async def test_v2_source_holding_none_skips_the_item(make_ctx: Any, run_node: Any) -> None:
    item = _item("v", "over-write", ["src", "out"], input_type="variable")
    ctx, result, events = await _v2(make_ctx, run_node, "keep", item, nodes={"src": {"out": None}})
    assert ctx.pool.get(["conversation", "v"]) == "keep"
    assert events == []
    assert result.process_data["__updated_variables"] == []


async def test_v2_loop_variable_written_without_event(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"loop1": {"num": 1}})
    items = [_item("num", "+=", 1, scope="loop1")]
    _, events = await run_node(assigner, ctx, {"version": "2", "items": items})
    assert events == []
    assert ctx.pool.get(["loop1", "num"]) == 2


async def test_read_only_scopes(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(system={"query": "q"}, environment={"KEY": "secret"})
    for scope, name in (("sys", "query"), ("env", "KEY")):
        items = [_item(name, "set", "x", scope=scope)]
        with pytest.raises(NodeError, match="read-only"):
            await run_node(assigner, ctx, {"version": "2", "items": items})


async def test_unknown_operation_is_rejected_at_import() -> None:
    with pytest.raises(ValueError, match="operation"):
        assigner.Config.model_validate({"version": "2", "items": [_item("v", "pow")]})


def test_value_types() -> None:
    assert assigner.value_type([]) == "array[any]"
    assert assigner.value_type([1, 2.5]) == "array[number]"
    assert assigner.value_type([True]) == "array[boolean]"
    assert assigner.value_type([{"a": 1}]) == "array[object]"
    assert assigner.value_type(["a", 1]) == "array[any]"
    assert assigner.value_type(3.5) == "number"


def test_registered() -> None:
    spec = spec_for("assigner")
    assert spec is not None and spec.run is assigner.run
