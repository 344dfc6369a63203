"""The template-transform node: render a Jinja2 template over selected variables.

Matches Dify: each `variables` entry binds a name to a pool value (missing values are
`None`, files become dicts), the output is `output`, and a result longer than
`TEMPLATE_TRANSFORM_MAX_LENGTH` fails the node.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.files import to_json
from chatflow.engine.nodes._jinja import TemplateRenderError, render
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult
from chatflow.engine.variables import MISSING
from chatflow.errors import NodeError

TYPE = "template-transform"


class VariableSelector(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    variable: str
    value_selector: list[str] = []


class Config(NodeConfig):
    variables: list[VariableSelector] = Field(default_factory=list)
    template: str = ""


def run(ctx: NodeContext, config: Config) -> NodeResult:
    """Render in the sandbox; template errors become a NodeError that names the problem."""
    variables: dict[str, Any] = {}
    for binding in config.variables:
        value = ctx.pool.get(binding.value_selector)
        variables[binding.variable] = None if value is MISSING else to_json(value, float)
    try:
        output = render(
            config.template, variables, max_length=ctx.services.limits.template_max_length
        )
    except TemplateRenderError as exc:
        raise NodeError(str(exc), node_id=ctx.node_id, error_type="TemplateRenderError") from exc
    return NodeResult(outputs={"output": output}, inputs=variables)
