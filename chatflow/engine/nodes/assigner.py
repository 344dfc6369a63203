"""The assigner node (DSL type `assigner`): writes conversation and loop variables.

Version 1 (`assigned_variable_selector`, `input_variable_selector`, `write_mode`
over-write|append|clear) and version 2 (`version: "2"`, `items` of operations) follow
Dify's type rules (graphon `variable_assigner`). Dify checks operations against the
variable's declared type; the pool holds plain values, so the type is read off the
current value (`[]` counts as `array[any]`).

All items are applied to a private overlay first, so a failing item writes nothing; then
the pool is updated and each written conversation variable is announced with a
`ConversationVariableUpdated` event for the server to persist. Loop variables
(`[loop_id, name]`) are written to the (forked) pool the loop reads from.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.events import ConversationVariableUpdated
from chatflow.engine.files import File
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.variables import CONVERSATION, ENVIRONMENT, MISSING, SYSTEM
from chatflow.errors import NodeError

TYPE = "assigner"

Operation = Literal[
    "over-write", "clear", "append", "extend", "set", "+=", "-=", "*=", "/=",
    "remove-first", "remove-last",
]  # fmt: skip
_NUMBER = "number"
_ARRAY_ITEM_TYPES: dict[str, tuple[type, ...]] = {
    "array[any]": (str, float, int, dict),
    "array[string]": (str,),
    "array[number]": (int, float),
    "array[object]": (dict,),
    "array[boolean]": (bool,),
}
_SCALAR_TYPES: dict[str, type] = {"string": str, "boolean": bool, "object": dict}
_NO_VALUE = frozenset({"clear", "remove-first", "remove-last"})
_ARITHMETIC = frozenset({"+=", "-=", "*=", "/="})


class Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    variable_selector: list[str]
    input_type: Literal["variable", "constant"] = "variable"  # Dify's editor default
    operation: Operation
    value: Any = None


class Config(NodeConfig):
    version: str = "1"
    # version 1
    assigned_variable_selector: list[str] = Field(default_factory=list)
    input_variable_selector: list[str] = Field(default_factory=list)
    write_mode: Literal["over-write", "append", "clear"] = "over-write"
    # version 2
    items: list[Item] = Field(default_factory=list)


def value_type(value: Any) -> str:
    """Dify's SegmentType name for a plain value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return _NUMBER
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, File):
        return "file"
    if isinstance(value, list):
        if not value:
            return "array[any]"
        for name, kinds in (
            ("array[file]", (File,)),
            ("array[boolean]", (bool,)),
            ("array[string]", (str,)),
            ("array[number]", (int, float)),
            ("array[object]", (dict,)),
        ):
            if all(isinstance(item, kinds) for item in value):
                return name
        return "array[any]"
    return "none" if value is None else "any"


def _zero(kind: str) -> Any:
    zeros: dict[str, Any] = {"string": "", _NUMBER: 0, "object": {}, "boolean": False}
    return [] if kind.startswith("array") else zeros.get(kind)


def _fail(ctx: NodeContext, message: str) -> NodeError:
    return NodeError(message, node_id=ctx.node_id, error_type="VariableOperatorNodeError")


class _Writes:
    """Pending writes: reads see earlier writes of the same node, the pool sees none yet."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.values: dict[tuple[str, str], Any] = {}

    def target(self, selector: Sequence[str]) -> tuple[tuple[str, str], Any]:
        if len(selector) != 2:
            raise _fail(self.ctx, f"Variable {list(selector)} not found")
        key = (selector[0], selector[1])
        if key[0] in (SYSTEM, ENVIRONMENT):
            raise _fail(self.ctx, f"Variable {list(selector)} is read-only")
        value = self.values[key] if key in self.values else self.ctx.pool.get(selector)
        if value is MISSING:
            raise _fail(self.ctx, f"Variable {list(selector)} not found")
        return key, value

    def read(self, selector: Sequence[str]) -> Any:
        if len(selector) == 2 and (selector[0], selector[1]) in self.values:
            return self.values[(selector[0], selector[1])]
        return self.ctx.pool.get(selector)

    def commit(self) -> list[NodeEvent]:
        events: list[NodeEvent] = []
        for (scope, name), value in self.values.items():
            self.ctx.pool.set(scope, name, value)
            if scope == CONVERSATION:
                events.append(ConversationVariableUpdated(name, value))
        return events

    def updated(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "selector": [scope, name], "value_type": value_type(v), "new_value": v}
            for (scope, name), v in self.values.items()
        ]


def _run_v1(ctx: NodeContext, config: Config, writes: _Writes) -> Any:
    key, current = writes.target(config.assigned_variable_selector)
    if config.write_mode == "clear":
        incoming = _zero(value_type(current))
        writes.values[key] = incoming
        return incoming
    incoming = writes.read(config.input_variable_selector)
    if incoming is MISSING:
        raise _fail(ctx, "input value not found")
    if config.write_mode == "over-write":
        writes.values[key] = incoming
    elif isinstance(current, list):
        writes.values[key] = [*current, incoming]
    else:
        raise _fail(ctx, "append mode requires an array variable")
    return incoming


def _supported(kind: str, operation: str) -> bool:
    if operation in ("over-write", "clear"):
        return True
    if kind in ("none", "any"):  # no declared type to check against: plain writes only
        return operation == "set"
    if operation == "set":
        return kind in ("object", "string", _NUMBER, "boolean")
    if operation in _ARITHMETIC:
        return kind == _NUMBER
    return kind.startswith("array")  # append, extend, remove-first, remove-last


def _constant_allowed(kind: str, operation: str) -> bool:
    if kind in ("string", "object", "boolean"):
        return operation in ("over-write", "set")
    if kind == _NUMBER:
        return operation in ("over-write", "set", *_ARITHMETIC)
    return kind in ("none", "any")


def _valid_input(kind: str, operation: str, value: Any) -> bool:
    if operation in _NO_VALUE or kind in ("none", "any"):
        return True
    if kind == _NUMBER:
        if isinstance(value, int | float):
            return not (operation == "/=" and value == 0)
        return False
    scalar = _SCALAR_TYPES.get(kind)
    if scalar is not None and isinstance(value, scalar):
        return True
    item_types = _ARRAY_ITEM_TYPES.get(kind)
    if item_types is None:
        return False
    if operation == "append":
        return isinstance(value, item_types)
    if operation in ("extend", "over-write"):
        return isinstance(value, list) and all(isinstance(v, item_types) for v in value)
    return False


def _apply(operation: str, current: Any, value: Any, kind: str) -> Any:
    if operation in ("over-write", "set"):
        return value
    if operation == "clear":
        return _zero(kind)
    if operation == "append":
        return [*current, value]
    if operation in ("extend", "+="):
        return current + value
    if operation == "-=":
        return current - value
    if operation == "*=":
        return current * value
    if operation == "/=":
        return current / value
    if operation == "remove-first":
        return current[1:]
    return current[:-1]  # remove-last


def _run_v2_item(ctx: NodeContext, item: Item, writes: _Writes) -> None:
    key, current = writes.target(item.variable_selector)
    kind = value_type(current)
    if not _supported(kind, item.operation):
        raise _fail(ctx, f"Operation {item.operation} is not supported for type {kind}")
    if item.input_type == "variable" and item.operation in ("set", *_ARITHMETIC):
        raise _fail(ctx, f"Input type variable is not supported for operation {item.operation}")
    if item.input_type == "constant" and not _constant_allowed(kind, item.operation):
        raise _fail(ctx, f"Input type constant is not supported for operation {item.operation}")
    value = item.value
    if item.input_type == "variable" and item.operation not in _NO_VALUE and value is not None:
        if not isinstance(value, list):
            raise _fail(ctx, f"Invalid input value {value}")
        value = writes.read(value)
        if value is MISSING:
            raise _fail(ctx, f"Variable {item.value} not found")
        if value is None:  # Dify skips an item whose source variable holds None
            return
    if item.operation == "set" and kind == "object" and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise _fail(ctx, f"Invalid input value {value}") from None
    if not _valid_input(kind, item.operation, value):
        raise _fail(ctx, f"Invalid input value {value}")
    writes.values[key] = _apply(item.operation, current, value, kind)


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    """Apply v1 or v2 writes; a node that fails writes nothing."""
    writes = _Writes(ctx)
    v2 = config.version == "2" or (bool(config.items) and not config.assigned_variable_selector)
    process_data: dict[str, Any] = {}
    if v2:
        for item in config.items:
            _run_v2_item(ctx, item, writes)
        inputs: dict[str, Any] = config.model_dump(include={"version", "items"})
        process_data.update({name: value for (_, name), value in writes.values.items()})
    else:
        inputs = {"value": _run_v1(ctx, config, writes)}
    process_data["__updated_variables"] = writes.updated()
    for event in writes.commit():
        yield event
    yield NodeResult(inputs=inputs, process_data=process_data)
