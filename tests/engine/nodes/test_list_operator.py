"""list-operator: Dify's filter -> extract -> order -> limit pipeline on real pool values."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import list_operator, spec_for
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError


class _NoModels:
    def llm(self, provider: str, model: str) -> Any:
        raise AssertionError("list-operator never calls a model")

    def embedder(self) -> Any:
        raise AssertionError("list-operator never embeds")


def _ctx(value: Any, **extra: Any) -> NodeContext:
    pool = VariablePool(system={"files": []})
    pool.set("src", "items", value)
    for name, item in extra.items():
        pool.set("other", name, item)
    return NodeContext("lo", pool, EngineServices(models=_NoModels(), limits=EngineLimits()))


async def _run(value: Any, data: dict[str, Any], **extra: Any) -> NodeResult:
    config = list_operator.Config.model_validate({"variable": ["src", "items"], **data})
    result = list_operator.run(_ctx(value, **extra), config)
    assert isinstance(result, NodeResult)
    return result


def _file(name: str, type_: str, size: int) -> File:
    ext = name.rsplit(".", 1)[-1]
    return File(
        type=type_,
        transfer_method="local_file",
        id=name,
        filename=name,  # type: ignore[arg-type]
        extension=f".{ext}",
        size=size,
    )


async def test_strings_filter_order_limit() -> None:
    result = await _run(
        ["pear", "apple", "plum", "apricot"],
        {
            "filter_by": {
                "enabled": True,
                "conditions": [
                    {"comparison_operator": "start with", "value": "{{#other.prefix#}}"}
                ],
            },
            "order_by": {"enabled": True, "value": "desc"},
            "limit": {"enabled": True, "size": 1},
        },
        prefix="ap",
    )
    assert result.outputs == {
        "result": ["apricot"],
        "first_record": "apricot",
        "last_record": "apricot",
    }


async def test_numbers_compare_and_extract_serial() -> None:
    result = await _run(
        [5, 1, 9, 3],
        {
            "filter_by": {
                "enabled": True,
                "conditions": [{"comparison_operator": "≥", "value": "3"}],
            },
            "extract_by": {"enabled": True, "serial": "2"},
        },
    )
    assert result.outputs["result"] == [9]


async def test_files_filter_by_type_in_list_like_simple_kimi() -> None:
    files = [
        _file("a.png", "image", 30),
        _file("b.pdf", "document", 10),
        _file("c.jpg", "image", 20),
    ]
    result = await _run(
        files,
        {
            "filter_by": {
                "enabled": True,
                "conditions": [{"comparison_operator": "in", "key": "type", "value": ["image"]}],
            },
            "order_by": {"enabled": True, "key": "size", "value": "asc"},
        },
    )
    assert [f.filename for f in result.outputs["result"]] == ["c.jpg", "a.png"]
    assert result.outputs["first_record"].filename == "c.jpg"
    assert result.inputs["variable"][0]["dify_model_identity"] == "__dify__file__"


async def test_objects_filter_and_order_by_key() -> None:
    rows = [{"n": "b", "score": 2}, {"n": "a", "score": 7}, {"n": "c", "score": 4}]
    result = await _run(
        rows,
        {
            "filter_by": {
                "enabled": True,
                "conditions": [{"key": "score", "comparison_operator": ">", "value": "3"}],
            },
            "order_by": {"enabled": True, "key": "n", "value": "asc"},
        },
    )
    assert result.outputs["result"] == [{"n": "a", "score": 7}, {"n": "c", "score": 4}]


async def test_booleans_and_empty_list() -> None:
    result = await _run(
        [True, False, True],
        {
            "filter_by": {
                "enabled": True,
                "conditions": [{"comparison_operator": "is", "value": False}],
            }
        },
    )
    assert result.outputs["result"] == [False]
    empty = await _run([], {"limit": {"enabled": True, "size": 3}})
    assert empty.outputs == {"result": [], "first_record": None, "last_record": None}


async def test_errors_are_node_errors() -> None:
    with pytest.raises(NodeError, match="not an array"):
        await _run("text", {})
    with pytest.raises(NodeError, match="serial index"):
        await _run(["a"], {"extract_by": {"enabled": True, "serial": "3"}})
    with pytest.raises(NodeError, match="Invalid condition"):
        await _run(
            ["a"],
            {
                "filter_by": {
                    "enabled": True,
                    "conditions": [{"comparison_operator": "≥", "value": "x"}],
                }
            },
        )


def test_registered_and_parses_corpus_shape() -> None:
    spec = spec_for("list-operator")
    assert spec is not None and spec.config is list_operator.Config
    config = list_operator.Config.model_validate(
        {
            "type": "list-operator",
            "title": "Image",
            "var_type": "array[file]",
            "item_var_type": "file",
            "variable": ["sys", "files"],
            "filter_by": {
                "enabled": True,
                "conditions": [{"comparison_operator": "in", "key": "type", "value": ["image"]}],
            },
            "limit": {"enabled": False, "size": 10},
            "order_by": {"enabled": False, "key": "", "value": "asc"},
        }
    )
    assert config.filter_by.conditions[0].value == ["image"]
