"""variable-aggregator (and legacy variable-assigner): first existing value wins."""

from __future__ import annotations

from typing import Any

from chatflow.engine.nodes import spec_for, variable_aggregator


async def test_first_existing_value(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"b": {"text": "from b"}, "c": {"text": "from c"}})
    data = {"output_type": "string", "variables": [["a", "text"], ["b", "text"], ["c", "text"]]}
    result, events = await run_node(variable_aggregator, ctx, data)
    assert events == []
    assert result.outputs == {"output": "from b"}
    assert result.inputs == {"text": "from b"}


async def test_none_value_counts_as_present(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"a": {"x": None}, "b": {"x": 1}})
    result, _ = await run_node(variable_aggregator, ctx, {"variables": [["a", "x"], ["b", "x"]]})
    assert result.outputs == {"output": None}


async def test_nothing_present_gives_no_output(make_ctx: Any, run_node: Any) -> None:
    result, _ = await run_node(variable_aggregator, make_ctx(), {"variables": [["a", "x"]]})
    assert result.outputs == {}


async def test_groups(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"a": {"text": "A", "n": 1}, "b": {"obj": {"k": 2}}})
    data = {
        "output_type": "string",
        "variables": [],
        "advanced_settings": {
            "group_enabled": True,
            "groups": [
                {
                    "group_name": "Group1",
                    "groupId": "g1",
                    "output_type": "string",
                    "variables": [["x", "text"], ["a", "text"]],
                },
                {
                    "group_name": "Group2",
                    "groupId": "g2",
                    "output_type": "object",
                    "variables": [["b", "obj"]],
                },
                {
                    "group_name": "Empty",
                    "groupId": "g3",
                    "output_type": "number",
                    "variables": [["z", "n"]],
                },
            ],
        },
    }
    result, _ = await run_node(variable_aggregator, ctx, data)
    assert result.outputs == {"Group1": {"output": "A"}, "Group2": {"output": {"k": 2}}}
    assert result.inputs == {"text": "A", "obj": {"k": 2}}
    ctx.pool.set_outputs("agg", result.outputs)
    assert ctx.pool.get(["agg", "Group2", "output"]) == {"k": 2}


async def test_groups_disabled_uses_flat_list(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"a": {"text": "A"}})
    data = {
        "variables": [["a", "text"]],
        "advanced_settings": {"group_enabled": False, "groups": []},
    }
    result, _ = await run_node(variable_aggregator, ctx, data)
    assert result.outputs == {"output": "A"}


def test_both_dsl_types_registered() -> None:
    for name in ("variable-aggregator", "variable-assigner"):
        spec = spec_for(name)
        assert spec is not None and spec.run is variable_aggregator.run
