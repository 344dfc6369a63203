"""The template-transform node: render a Jinja2 template over selected variables.

Matches Dify: each `variables` entry binds a name to a pool value (missing values are
`None`, files become dicts), the output is `output`, and a result longer than
`TEMPLATE_TRANSFORM_MAX_LENGTH` fails the node.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.files import to_json
from chatflow.engine.nodes._jinja import TemplateRenderError, render
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
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


def _may_run_long(template: str) -> bool:
    """Whether a render can take long: statements (loops, macros, recursion) or `range()`.

    Anything else is expressions over the run's variables, whose cost is linear in the
    template and the (size-capped) data, and size-amplifying operations are refused
    before they allocate (`_jinja`). Those render inline: a worker-thread hop costs more
    than the render itself (a chain of 50 one-line templates: ~9x slower per node)."""
    return "{%" in template or "range" in template


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    """Render in Jinja's sandbox, on a worker thread when the template could be slow (a
    slow template never stalls the event loop); template errors become a NodeError that
    names the problem."""
    variables: dict[str, Any] = {}
    for binding in config.variables:
        value = ctx.pool.get(binding.value_selector)
        variables[binding.variable] = None if value is MISSING else to_json(value, float)
    limit = ctx.services.limits.template_max_length
    try:
        if _may_run_long(config.template):
            output = await asyncio.to_thread(render, config.template, variables, max_length=limit)
        else:
            output = render(config.template, variables, max_length=limit)
    except TemplateRenderError as exc:
        raise NodeError(str(exc), node_id=ctx.node_id, error_type="TemplateRenderError") from exc
    yield NodeResult(outputs={"output": output}, inputs=variables)
