"""The `start` node: the run's user inputs, checked and typed, plus the system variables.

The caller puts the raw inputs in the pool under the start node's id (or passes
`inputs=` to `run_graph`). `coerce_inputs` applies Dify's input-form rules (required,
string types, select options, max length, numbers from strings) and is public so the
service can reject bad inputs with Dify's 400 messages before a run starts. As in Dify,
the node's outputs are the inputs plus every system variable as `sys.<name>`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult
from chatflow.engine.variables import SYSTEM
from chatflow.errors import InvalidRequest, NodeError

TYPE = "start"

_STRING_TYPES = frozenset(("text-input", "paragraph", "select"))


class InputVariable(BaseModel):
    """One field of the input form (Dify's `VariableEntity`); UI-only keys are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    variable: str
    label: Any = ""
    type: str = "text-input"
    required: bool = False
    max_length: int | None = None
    options: list[str] = Field(default_factory=list)
    default: Any = None


class Config(NodeConfig):
    variables: list[InputVariable] = Field(default_factory=list)


def coerce_inputs(variables: Sequence[InputVariable], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Dify's `_validate_inputs` for every form variable; raises `InvalidRequest`."""
    values: dict[str, Any] = {}
    for entity in variables:
        value = inputs.get(entity.variable)
        if value is None or (value == "" and entity.default not in (None, "")):
            value = entity.default if entity.default not in (None, "") else None
        values[entity.variable] = _coerce(entity, value)
    return values


def _coerce(entity: InputVariable, value: Any) -> Any:
    name = entity.variable
    if value is None:
        if entity.required:
            raise InvalidRequest(f"{name} is required in input form")
        return None
    kind = entity.type
    if kind in _STRING_TYPES:
        if not isinstance(value, str):
            raise InvalidRequest(f"{name} in input form must be a string")
        if kind == "select" and entity.options and value not in entity.options:
            raise InvalidRequest(
                f"{name} in input form must be one of the following: {entity.options}"
            )
        if kind != "select" and entity.max_length and len(value) > entity.max_length:
            raise InvalidRequest(
                f"{name} in input form must be less than {entity.max_length} characters"
            )
        return value.replace("\x00", "")
    if kind == "number" and isinstance(value, str):
        if not value.strip():
            return None
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            raise InvalidRequest(f"{name} in input form must be a valid number") from None
    if kind in ("checkbox", "boolean") and isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    if kind in ("json", "json_object") and isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except ValueError:
            raise InvalidRequest(f"{name} in input form must be a valid JSON object") from None
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def run(ctx: NodeContext, config: Config) -> NodeResult:
    given = ctx.pool.node_outputs(ctx.node_id)
    try:
        values = coerce_inputs(config.variables, given)
    except InvalidRequest as exc:
        raise NodeError(exc.message, node_id=ctx.node_id, error_type="InvalidInput") from exc
    system = {f"sys.{name}": value for name, value in ctx.pool.node_outputs(SYSTEM).items()}
    outputs = {**values, **system}
    return NodeResult(inputs=outputs, outputs=outputs)
