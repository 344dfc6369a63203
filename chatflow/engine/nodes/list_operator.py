"""The list-operator node: filter, extract, sort and slice an array variable.

Matches Dify's `ListOperatorNode`: operations apply in the order filter -> extract ->
order -> limit, string filter values may hold `{{#node.var#}}` references, and the
outputs are `result`, `first_record` and `last_record`. Arrays of strings, numbers,
booleans and files work as in Dify; arrays of objects filter and sort by `key`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.files import File, to_json
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult
from chatflow.engine.template import render
from chatflow.engine.variables import MISSING
from chatflow.errors import NodeError

TYPE = "list-operator"

Predicate = Callable[[Any], bool]
_FILE_STRING_KEYS = frozenset(("name", "extension", "mime_type", "url", "related_id"))
_FILE_ENUM_KEYS = frozenset(("type", "transfer_method"))


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FilterCondition(_Part):
    key: str = ""
    comparison_operator: str = "contains"
    # A bool when comparing with a boolean constant, a list for file `type in [...]`.
    value: str | list[str] | bool | int | float = ""


class FilterBy(_Part):
    enabled: bool = False
    conditions: list[FilterCondition] = Field(default_factory=list)


class OrderBy(_Part):
    enabled: bool = False
    key: str = ""
    value: Literal["asc", "desc"] = "asc"


class Limit(_Part):
    enabled: bool = False
    size: int = -1


class ExtractBy(_Part):
    enabled: bool = False
    serial: str = "1"


class Config(NodeConfig):
    variable: list[str] = Field(default_factory=list)
    filter_by: FilterBy = Field(default_factory=FilterBy)
    order_by: OrderBy = Field(default_factory=OrderBy)
    limit: Limit = Field(default_factory=Limit)
    extract_by: ExtractBy = Field(default_factory=ExtractBy)


def run(ctx: NodeContext, config: Config) -> NodeResult:
    """Apply the enabled operations in Dify's order and publish the resulting list."""
    value = ctx.pool.get(config.variable)
    if value is MISSING or value is None:
        raise NodeError(f"Variable not found for selector: {config.variable}")
    if not isinstance(value, list):
        raise NodeError(f"Variable {config.variable} is not an array type")
    items: list[Any] = list(value)
    inputs = {"variable": to_json(items)}
    if items:
        if config.filter_by.enabled:
            for condition in config.filter_by.conditions:
                keep = _predicate(ctx, condition, items)
                items = [item for item in items if keep(item)]
        if config.extract_by.enabled:
            items = _extract(ctx, config.extract_by, items)
        if config.order_by.enabled:
            items = _order(config.order_by, items)
        if config.limit.enabled:
            items = items[: config.limit.size] if config.limit.size >= 0 else items
    outputs = {
        "result": items,
        "first_record": items[0] if items else None,
        "last_record": items[-1] if items else None,
    }
    return NodeResult(outputs=outputs, inputs=inputs, process_data=inputs)


def _predicate(ctx: NodeContext, condition: FilterCondition, items: list[Any]) -> Predicate:
    """Build the filter for one condition, choosing comparisons by the element type."""
    operator = condition.comparison_operator
    sample = items[0]
    if isinstance(sample, File):
        return _file_predicate(ctx, condition)
    if isinstance(sample, bool):
        if not isinstance(condition.value, bool):
            raise NodeError(f"Boolean filter expects a boolean value, got {condition.value!r}")
        return _bool_predicate(operator, condition.value)
    if isinstance(sample, dict):
        key = condition.key
        value_filter = _value_predicate(ctx, operator, condition.value, sample.get(key))
        return lambda item: isinstance(item, dict) and value_filter(item.get(key))
    return _value_predicate(ctx, operator, condition.value, sample)


def _value_predicate(ctx: NodeContext, operator: str, raw: Any, sample: Any) -> Predicate:
    if isinstance(raw, bool) or isinstance(sample, bool):
        return _bool_predicate(operator, bool(raw))
    if isinstance(sample, int | float):
        text = render(str(raw), ctx.pool)
        try:
            number = float(text)
        except ValueError as exc:
            raise NodeError(f"Invalid filter value: {text!r} is not a number") from exc
        return _number_predicate(operator, number)
    if isinstance(raw, list):
        return _sequence_predicate(operator, raw)
    return _string_predicate(operator, render(str(raw), ctx.pool))


def _string_predicate(operator: str, value: str) -> Predicate:
    def text(item: Any) -> str:
        return "" if item is None else str(item)

    checks: dict[str, Predicate] = {
        "contains": lambda item: value in text(item),
        "not contains": lambda item: value not in text(item),
        "start with": lambda item: text(item).startswith(value),
        "end with": lambda item: text(item).endswith(value),
        "is": lambda item: text(item) == value,
        "is not": lambda item: text(item) != value,
        "in": lambda item: text(item) in value,
        "not in": lambda item: text(item) not in value,
        "empty": lambda item: not item,
        "not empty": lambda item: bool(item),
    }
    if operator not in checks:
        raise NodeError(f"Invalid condition: {operator}")
    return checks[operator]


def _sequence_predicate(operator: str, values: Sequence[str]) -> Predicate:
    if operator == "in":
        return lambda item: item in values
    if operator == "not in":
        return lambda item: item not in values
    raise NodeError(f"Invalid condition: {operator}")


def _number_predicate(operator: str, value: float) -> Predicate:
    def number(item: Any) -> float | None:
        return float(item) if isinstance(item, int | float) else None

    def compare(test: Callable[[float], bool]) -> Predicate:
        return lambda item: (n := number(item)) is not None and test(n)

    checks: dict[str, Predicate] = {
        "=": compare(lambda n: n == value),
        "≠": compare(lambda n: n != value),
        "<": compare(lambda n: n < value),
        "≤": compare(lambda n: n <= value),
        ">": compare(lambda n: n > value),
        "≥": compare(lambda n: n >= value),
    }
    if operator not in checks:
        raise NodeError(f"Invalid condition: {operator}")
    return checks[operator]


def _bool_predicate(operator: str, value: bool) -> Predicate:
    if operator == "is":
        return lambda item: item == value
    if operator == "is not":
        return lambda item: item != value
    raise NodeError(f"Invalid condition: {operator}")


def _file_predicate(ctx: NodeContext, condition: FilterCondition) -> Predicate:
    """Dify filters files by one attribute: strings, enum-like `type`, or `size`."""
    key, operator, raw = condition.key, condition.comparison_operator, condition.value
    if key in _FILE_ENUM_KEYS:
        values = raw if isinstance(raw, list) else [render(str(raw), ctx.pool)]
        check = _sequence_predicate(operator, values)
        return lambda item: check(_file_key(item, key))
    if key in _FILE_STRING_KEYS and isinstance(raw, str):
        string_check = _string_predicate(operator, render(raw, ctx.pool))
        return lambda item: string_check(_file_key(item, key))
    if key == "size" and not isinstance(raw, list | bool):
        number_check = _value_predicate(ctx, operator, raw, 0)
        return lambda item: number_check(item.size)
    raise NodeError(f"Invalid key: {key}")


def _file_key(file: File, key: str) -> Any:
    return file.attribute(key) or ("" if key != "size" else 0)


def _extract(ctx: NodeContext, extract: ExtractBy, items: list[Any]) -> list[Any]:
    """`extract_by.serial` is 1-based and may be a template, as in Dify."""
    text = render(extract.serial, ctx.pool)
    try:
        serial = int(text)
    except ValueError as exc:
        raise NodeError(f"Invalid serial index: {text!r}") from exc
    if serial < 1:
        raise NodeError(f"Invalid serial index: must be >= 1, got {serial}")
    if serial > len(items):
        raise NodeError(f"Invalid serial index: must be <= {len(items)}, got {serial}")
    return [items[serial - 1]]


def _order(order: OrderBy, items: list[Any]) -> list[Any]:
    reverse = order.value == "desc"
    sample = items[0]
    if isinstance(sample, File):
        if order.key not in _FILE_STRING_KEYS | _FILE_ENUM_KEYS | {"size"}:
            raise NodeError(f"Invalid order key: {order.key}")
        return sorted(items, key=lambda file: _file_key(file, order.key), reverse=reverse)
    if isinstance(sample, dict):
        # Missing keys sort first (last when descending) instead of failing the run.
        def object_key(item: Any) -> tuple[bool, Any]:
            value = item.get(order.key) if isinstance(item, dict) else None
            return (value is not None, value)

        try:
            return sorted(items, key=object_key, reverse=reverse)
        except TypeError as exc:
            raise NodeError(f"Cannot order by key {order.key!r}: mixed value types") from exc
    try:
        return sorted(items, reverse=reverse)
    except TypeError as exc:
        raise NodeError("Cannot order a list with mixed value types") from exc
