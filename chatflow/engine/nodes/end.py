"""The `end` node: a workflow's outputs, each named variable read from its selector.

In workflow mode the runner's coordinator also streams these values as text chunks,
joined by newlines, as Dify's end node does.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult

TYPE = "end"


class OutputVariable(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    variable: str
    value_selector: list[str] = Field(default_factory=list)


class Config(NodeConfig):
    outputs: list[OutputVariable] = Field(default_factory=list)


def run(ctx: NodeContext, config: Config) -> NodeResult:
    outputs = {item.variable: ctx.pool.get(item.value_selector, None) for item in config.outputs}
    return NodeResult(inputs=outputs, outputs=outputs)
