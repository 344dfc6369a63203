"""The template-transform node: render a Jinja2 template over selected variables.

Matches Dify: each `variables` entry binds a name to a pool value (missing values are
`None`, files become dicts), the output is `output`, and a result longer than
`TEMPLATE_TRANSFORM_MAX_LENGTH` fails the node. A node's template decides at import how
it renders (`run_for`): inline, or on a worker thread when it could be slow.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.files import to_json
from chatflow.engine.nodes._jinja import TemplateRenderError, render
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult, NodeRun
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


def _variables(ctx: NodeContext, config: Config) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for binding in config.variables:
        value = ctx.pool.get(binding.value_selector)
        variables[binding.variable] = None if value is MISSING else to_json(value, float)
    return variables


def _failed(ctx: NodeContext, exc: TemplateRenderError) -> NodeError:
    return NodeError(str(exc), node_id=ctx.node_id, error_type="TemplateRenderError")


def run_for(config: Config) -> NodeRun:
    """The run a node with this template uses: `render_inline` (an instant node) unless
    the template could be slow (`_may_run_long`), then `run`, which renders on a worker
    thread so a slow template never stalls the event loop."""
    return run if _may_run_long(config.template) else render_inline


def render_inline(ctx: NodeContext, config: Config) -> NodeResult:
    """Render in Jinja's sandbox in this thread; template errors become a NodeError that
    names the problem."""
    variables = _variables(ctx, config)
    try:
        output = render(
            config.template, variables, max_length=ctx.services.limits.template_max_length
        )
    except TemplateRenderError as exc:
        raise _failed(ctx, exc) from exc
    return NodeResult(outputs={"output": output}, inputs=variables)


async def run(ctx: NodeContext, config: Config) -> AsyncGenerator[NodeEvent, None]:
    """`render_inline`'s work on a worker thread."""
    variables = _variables(ctx, config)
    limit = ctx.services.limits.template_max_length
    try:
        output = await asyncio.to_thread(render, config.template, variables, max_length=limit)
    except TemplateRenderError as exc:
        raise _failed(ctx, exc) from exc
    yield NodeResult(outputs={"output": output}, inputs=variables)
