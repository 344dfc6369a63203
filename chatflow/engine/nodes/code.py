"""The code node: run the user's `main` in the sandbox and validate its result.

Matches Dify: `variables` bind names to pool values (missing values are `None`, files
become Dify file dicts) and are passed as `main`'s keyword arguments; the returned dict
is checked against `outputs` (`_code_outputs`); sandbox and validation failures fail the
node with Dify-like messages. The code never runs in the server's process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.files import to_json
from chatflow.engine.nodes._code_outputs import Output, OutputValidationError, Validator
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.variables import MISSING
from chatflow.errors import ChatflowError, NodeError

TYPE = "code"


class VariableSelector(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    variable: str
    value_selector: list[str] = Field(default_factory=list)


class Config(NodeConfig):
    code_language: Literal["python3", "javascript"] = "python3"
    code: str = ""
    variables: list[VariableSelector] = Field(default_factory=list)
    outputs: dict[str, Output] = Field(default_factory=dict)
    # Dify lists packages here; the sandbox offers the standard library only.
    dependencies: list[Any] | None = None


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    """Run `main(**inputs)` out of process; a failure names the error like Dify does."""
    executor = ctx.services.code
    if executor is None:
        raise NodeError("code execution is not configured", node_id=ctx.node_id)
    inputs: dict[str, Any] = {}
    for binding in config.variables:
        value = ctx.pool.get(binding.value_selector)
        inputs[binding.variable] = None if value is MISSING else to_json(value, float)
    try:
        result = await executor.run(
            config.code_language,
            config.code,
            inputs,
            timeout=ctx.services.limits.code_timeout_seconds,
        )
    except ChatflowError as exc:
        raise NodeError(exc.message, node_id=ctx.node_id, error_type="CodeExecutionError") from exc
    try:
        outputs = Validator(ctx.services.limits).validate(result, config.outputs)
    except OutputValidationError as exc:
        raise NodeError(str(exc), node_id=ctx.node_id, error_type="OutputValidationError") from exc
    yield NodeResult(outputs=outputs, inputs=inputs)
