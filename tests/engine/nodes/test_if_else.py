"""if-else: every Dify comparison operator, both DSL shapes, file sub-conditions."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.engine.nodes import if_else, spec_for
from chatflow.errors import NodeError


def _case(case_id: str, *conditions: dict[str, Any], op: str = "and") -> dict[str, Any]:
    return {"case_id": case_id, "logical_operator": op, "conditions": list(conditions)}


def _cond(
    operator: str, value: Any = None, selector: tuple[str, ...] = ("start", "x"), **extra: Any
) -> dict[str, Any]:
    return {
        "variable_selector": list(selector),
        "comparison_operator": operator,
        "value": value,
        **extra,
    }


async def _check(make_ctx: Any, run_node: Any, actual: Any, operator: str, value: Any) -> bool:
    ctx = make_ctx(nodes={"start": {"x": actual}})
    result, _ = await run_node(if_else, ctx, {"cases": [_case("c1", _cond(operator, value))]})
    assert result.handle == ("c1" if result.outputs["result"] else "false")
    return bool(result.outputs["result"])


@pytest.mark.parametrize(
    ("actual", "operator", "value", "expected"),
    [
        ("hello world", "contains", "world", True),
        ("hello", "contains", "xyz", False),
        ("", "contains", "a", False),
        (["a", "b"], "contains", "b", True),
        (["a", "b"], "contains", "c", False),
        ("hello", "not contains", "xyz", True),
        ("hello", "not contains", "ell", False),
        ("", "not contains", "a", True),
        (["a"], "not contains", "a", False),
        ("hello", "start with", "he", True),
        ("hello", "start with", "lo", False),
        ("", "start with", "a", False),
        ("hello", "end with", "lo", True),
        ("hello", "end with", "he", False),
        ("yes", "is", "yes", True),
        ("yes", "is", "Yes", False),
        (None, "is", "x", False),
        ("yes", "is not", "no", True),
        ("yes", "is not", "yes", False),
        (None, "is not", "x", False),
        ("", "empty", None, True),
        ([], "empty", None, True),
        (None, "empty", None, True),
        (0, "empty", None, True),
        ("a", "empty", None, False),
        ("a", "not empty", None, True),
        ({}, "not empty", None, False),
        ("b", "in", ["a", "b"], True),
        ("c", "in", ["a", "b"], False),
        ("", "in", ["a", ""], False),
        ("c", "not in", ["a", "b"], True),
        ("a", "not in", ["a", "b"], False),
        ("", "not in", ["a"], True),
        (["a", "b", "c"], "all of", ["a", "c"], True),
        (["a", "b"], "all of", ["a", "z"], False),
        ("abc", "all of", ["a", "c"], True),
        ([], "all of", ["a"], False),
        (5, "=", "5", True),
        (5, "=", "6", False),
        (2.5, "=", "2.5", True),
        (5, "≠", "6", True),
        (5, "≠", "5", False),
        (None, "=", "1", False),
        (None, "≠", "1", False),
        (10, ">", "9", True),
        (10, ">", "10", False),
        (10, ">", "9.5", True),
        (1.5, ">", "1", True),
        (None, ">", "1", False),
        (3, "<", "4", True),
        (3, "<", "2", False),
        (3, "≥", "3", True),
        (3, "≥", "4", False),
        (3, "≤", "3", True),
        (3.1, "≤", "3", False),
        (None, "null", None, True),
        ("", "null", None, False),
        ("x", "not null", None, True),
        (None, "not null", None, False),
        ("anything", "exists", None, True),
        (None, "exists", None, False),
        (None, "not exists", None, True),
        (0, "not exists", None, False),
    ],
)
async def test_operator(
    make_ctx: Any, run_node: Any, actual: Any, operator: str, value: Any, expected: bool
) -> None:
    assert await _check(make_ctx, run_node, actual, operator, value) is expected


@pytest.mark.parametrize(
    ("actual", "operator", "value", "expected"),
    [
        (True, "is", "true", True),
        (True, "is", "false", False),
        (False, "is", "false", True),
        (False, "is not", "true", True),
        (True, "=", "1", True),
        (True, "≠", "1", False),
        (False, "=", "0", True),
        ([True, False], "contains", "true", True),
        ([True, True], "contains", "false", False),
        ([True, False], "all of", ["true", "false"], True),
        ([True, True], "all of", ["false"], False),
    ],
)
async def test_boolean_values_parse_expected_strings(
    make_ctx: Any, run_node: Any, actual: Any, operator: str, value: Any, expected: bool
) -> None:
    assert await _check(make_ctx, run_node, actual, operator, value) is expected


async def test_boolean_expected_value_in_yaml(make_ctx: Any, run_node: Any) -> None:
    assert await _check(make_ctx, run_node, True, "is", True) is True
    assert await _check(make_ctx, run_node, False, "is", True) is False


@pytest.mark.parametrize(
    ("actual", "operator", "value", "message"),
    [
        (5, "contains", "5", "Invalid actual value type: string or array"),
        (5, "start with", "5", "Invalid actual value type: string"),
        (5, "is", "5", "Invalid actual value type: string or boolean"),
        ("5", "=", "5", "Invalid actual value type: number or boolean"),
        ("5", ">", "4", "Invalid actual value type: number"),
        (5, ">", "abc", "Cannot convert 'abc' to number"),
        ("a", "in", "a", "Invalid expected value type: array"),
        (["a"], "all of", "a", "all of operator expects homogeneous list"),
        (True, "is", "maybe", "unexpected value"),
    ],
)
async def test_type_errors_fail_the_node(
    make_ctx: Any, run_node: Any, actual: Any, operator: str, value: Any, message: str
) -> None:
    with pytest.raises(NodeError, match=message) as error:
        await _check(make_ctx, run_node, actual, operator, value)
    assert error.value.node_id == "node"


async def test_missing_variable_fails(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx()
    with pytest.raises(NodeError, match=r"Variable \['start', 'x'\] not found"):
        await run_node(if_else, ctx, {"cases": [_case("c1", _cond("exists"))]})


async def test_numbers_in_yaml_are_accepted(make_ctx: Any, run_node: Any) -> None:
    assert await _check(make_ctx, run_node, 7, ">", 6) is True
    assert await _check(make_ctx, run_node, 7, "=", 7) is True


async def test_first_matching_case_wins(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"start": {"x": "apple pie", "n": 3}})
    data = {
        "cases": [
            _case("c1", _cond("contains", "banana")),
            _case("c2", _cond("contains", "apple"), _cond("=", "3", ("start", "n"))),
            _case("c3", _cond("contains", "pie")),
        ]
    }
    result, events = await run_node(if_else, ctx, data)
    assert events == []
    assert result.handle == "c2"
    assert result.outputs == {"result": True, "selected_case_id": "c2"}
    groups = result.process_data["condition_results"]
    assert [g["final_result"] for g in groups] == [False, True]
    assert groups[1]["group"]["case_id"] == "c2"
    assert result.inputs["conditions"][1] == {
        "actual_value": 3,
        "expected_value": "3",
        "comparison_operator": "=",
    }


async def test_no_case_matches_takes_false_handle(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"start": {"x": "z"}})
    result, _ = await run_node(if_else, ctx, {"cases": [_case("c1", _cond("is", "a"))]})
    assert result.handle == "false"
    assert result.outputs == {"result": False, "selected_case_id": "false"}


async def test_or_short_circuits_and_and_stops_at_first_false(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"start": {"x": "a"}})
    # The second condition would fail (missing variable) if it were evaluated.
    missing = _cond("is", "a", ("start", "missing"))
    result, _ = await run_node(
        if_else, ctx, {"cases": [_case("any", _cond("is", "a"), missing, op="or")]}
    )
    assert result.handle == "any"
    assert result.process_data["condition_results"][0]["results"] == [True]
    result, _ = await run_node(
        if_else, ctx, {"cases": [_case("all", _cond("is", "b"), missing, op="and")]}
    )
    assert result.handle == "false"


async def test_legacy_shape_uses_true_false_handles(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"start": {"x": "hello"}})
    data = {"logical_operator": "or", "conditions": [_cond("is", "no"), _cond("contains", "ell")]}
    result, _ = await run_node(if_else, ctx, data)
    assert result.handle == "true"
    assert result.outputs["selected_case_id"] == "true"
    assert result.process_data["condition_results"][0]["group"] == "default"
    data["conditions"] = [_cond("is", "no")]
    result, _ = await run_node(if_else, ctx, data)
    assert result.handle == "false"


async def test_expected_value_may_reference_variables(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"start": {"x": "hello Ada", "name": "Ada", "limit": 4}})
    data = {
        "cases": [
            _case(
                "c1",
                _cond("end with", "{{#start.name#}}"),
                _cond("<", "{{#start.limit#}}", ("start", "limit2")),
            )
        ]
    }
    ctx.pool.set("start", "limit2", 3)
    result, _ = await run_node(if_else, ctx, data)
    assert result.handle == "c1"
    assert result.inputs["conditions"][0]["expected_value"] == "Ada"
    # An unresolvable reference becomes its bare path, as Dify's convert_template does.
    ctx.pool.set("start", "x", "nope.missing")
    data = {"cases": [_case("c1", _cond("is", "{{#nope.missing#}}"))]}
    result, _ = await run_node(if_else, ctx, data)
    assert result.handle == "c1"


def _sub(*conditions: dict[str, Any], op: str = "and") -> dict[str, Any]:
    return {"logical_operator": op, "conditions": list(conditions)}


async def test_file_sub_conditions(make_ctx: Any, run_node: Any, file_factory: Any) -> None:
    files = [
        file_factory("a.png"),
        file_factory("doc.pdf", type="document", extension="pdf", mime_type="application/pdf"),
    ]
    ctx = make_ctx(system={"files": files})
    selector = ("sys", "files")

    async def decide(operator: str, sub: dict[str, Any]) -> str | None:
        cond = _cond(operator, "", selector, sub_variable_condition=sub)
        result, _ = await run_node(if_else, ctx, {"cases": [_case("c", cond)]})
        handle: str | None = result.handle
        return handle

    type_in = {"key": "type", "comparison_operator": "in", "value": ["image"]}
    assert await decide("contains", _sub(type_in)) == "c"
    # "not ..." operators must hold for every file.
    not_pdf = {"key": "extension", "comparison_operator": "is not", "value": "pdf"}
    assert await decide("not contains", _sub(not_pdf)) == "false"
    not_gif = {"key": "extension", "comparison_operator": "is not", "value": ".gif"}
    assert await decide("not contains", _sub(not_gif)) == "c"
    # Extensions compare with a leading dot whichever way either side is written.
    is_pdf = {"key": "extension", "comparison_operator": "is", "value": "pdf"}
    assert await decide("contains", _sub(is_pdf)) == "c"
    big = {"key": "size", "comparison_operator": ">", "value": "2048"}
    assert await decide("contains", _sub(type_in, big, op="and")) == "false"
    assert await decide("contains", _sub(type_in, big, op="or")) == "c"
    name = {"key": "name", "comparison_operator": "start with", "value": "doc"}
    assert await decide("all of", _sub(name)) == "c"


async def test_file_array_needs_sub_conditions(
    make_ctx: Any, run_node: Any, file_factory: Any
) -> None:
    ctx = make_ctx(system={"files": [file_factory()]})
    cond = _cond("contains", "x", ("sys", "files"))
    with pytest.raises(NodeError, match="Sub variable is required"):
        await run_node(if_else, ctx, {"cases": [_case("c", cond)]})


async def test_empty_file_list_with_sub_conditions(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(system={"files": []})
    sub = _sub({"key": "type", "comparison_operator": "in", "value": ["image"]})
    cond = _cond("contains", "", ("sys", "files"), sub_variable_condition=sub)
    result, _ = await run_node(if_else, ctx, {"cases": [_case("c", cond)]})
    assert result.handle == "false"


async def test_single_file_exists(make_ctx: Any, run_node: Any, file_factory: Any) -> None:
    ctx = make_ctx(nodes={"start": {"x": file_factory()}})
    result, _ = await run_node(if_else, ctx, {"cases": [_case("c", _cond("exists"))]})
    assert result.handle == "c"


def test_registered() -> None:
    spec = spec_for("if-else")
    assert spec is not None and spec.run is if_else.run
