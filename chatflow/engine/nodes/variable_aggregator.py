"""The variable-aggregator node (DSL type `variable-aggregator`, legacy `variable-assigner`).

Merges the branches of an if-else or classifier: the output is the first listed variable
that exists in the pool, i.e. the one produced by the branch that ran. With
`advanced_settings.group_enabled` every group picks its own first value and the outputs
are `{group_name: {"output": value}}`. When nothing exists the output is empty, as in Dify.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult
from chatflow.engine.variables import MISSING, VariablePool

TYPE = ("variable-aggregator", "variable-assigner")


class Group(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    group_name: str
    output_type: str = "any"
    variables: list[list[str]] = []


class AdvancedSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    group_enabled: bool = False
    groups: list[Group] = []


class Config(NodeConfig):
    output_type: str = "any"
    variables: list[list[str]] = Field(default_factory=list)
    advanced_settings: AdvancedSettings | None = None


def _first(pool: VariablePool, selectors: Sequence[Sequence[str]]) -> tuple[str, Any] | None:
    for selector in selectors:
        value = pool.get(selector)
        if value is not MISSING:
            return ".".join(selector[1:]), value
    return None


def run(ctx: NodeContext, config: Config) -> NodeResult:
    """Pick the first existing value (per group when grouping is on)."""
    outputs: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    settings = config.advanced_settings
    if settings is None or not settings.group_enabled:
        found = _first(ctx.pool, config.variables)
        if found is not None:
            outputs["output"] = found[1]
            inputs[found[0]] = found[1]
    else:
        for group in settings.groups:
            found = _first(ctx.pool, group.variables)
            if found is not None:
                outputs[group.group_name] = {"output": found[1]}
                inputs[found[0]] = found[1]
    return NodeResult(outputs=outputs, inputs=inputs)
