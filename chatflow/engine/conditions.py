"""Dify's condition language: one comparison per `Condition`, groups joined by and/or.

Shared by if-else cases and loop break conditions. Semantics follow Dify's
`ConditionProcessor` (graphon `utils/condition`): a missing variable is an error, string
values may hold `{{#node.var#}}` references, number operators parse string operands,
boolean variables parse `"true"`/`"1"` operands as JSON, and `contains`/`not contains`/
`all of` on a file array test file attributes through `sub_variable_condition`.
Evaluation errors raise `ConditionError` (a ValueError) with Dify's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from chatflow.engine.files import File
from chatflow.engine.template import parse
from chatflow.engine.variables import MISSING, VariablePool

Operator = Literal[
    "contains", "not contains", "start with", "end with", "is", "is not", "empty",
    "not empty", "in", "not in", "all of", "=", "≠", ">", "<", "≥", "≤", "null",
    "not null", "exists", "not exists",
]  # fmt: skip
ConditionValue = str | list[str] | bool | None


class ConditionError(ValueError):
    """A condition could not be evaluated (Dify fails the node with this message)."""


def _coerce_value(value: Any) -> Any:
    # Hand-written DSLs put bare YAML numbers where Dify's editor writes strings.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return [_coerce_value(v) for v in value]
    return value


class SubCondition(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    comparison_operator: Operator
    value: str | list[str] | None = None

    _coerce = field_validator("value", mode="before")(lambda v: _coerce_value(v))


class SubVariableCondition(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    logical_operator: Literal["and", "or"] = "and"
    conditions: list[SubCondition] = []


class Condition(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    variable_selector: list[str]
    comparison_operator: Operator
    value: ConditionValue = None
    sub_variable_condition: SubVariableCondition | None = None

    _coerce = field_validator("value", mode="before")(lambda v: _coerce_value(v))


@dataclass(frozen=True, slots=True)
class ConditionResult:
    inputs: list[dict[str, Any]]  # actual/expected/operator per evaluated condition
    results: list[bool]
    final: bool


_UNARY = frozenset({"empty", "not empty", "null", "not null", "exists", "not exists"})
_FILE_ARRAY_OPERATORS = frozenset({"contains", "not contains", "all of"})


def evaluate(
    pool: VariablePool, conditions: Sequence[Condition], logical_operator: str
) -> ConditionResult:
    """Evaluate conditions in order, short-circuiting like Dify."""
    inputs: list[dict[str, Any]] = []
    results: list[bool] = []
    for condition in conditions:
        value = pool.get(condition.variable_selector)
        if value is MISSING:
            raise ConditionError(f"Variable {list(condition.variable_selector)} not found")
        operator = condition.comparison_operator
        if operator in _FILE_ARRAY_OPERATORS and _is_file_array(value, condition):
            if condition.sub_variable_condition is None:
                raise ConditionError("Sub variable is required")
            result = _file_sub_conditions(value, condition.sub_variable_condition)
        elif operator in ("exists", "not exists"):
            result = compare(operator, value, None)
        else:
            expected = _expected_value(value, condition.value, pool)
            inputs.append(
                {"actual_value": value, "expected_value": expected, "comparison_operator": operator}
            )
            result = compare(operator, value, expected)
        results.append(result)
        if (logical_operator == "and" and not result) or (logical_operator == "or" and result):
            return ConditionResult(inputs, results, result)
    final = all(results) if logical_operator == "and" else any(results)
    return ConditionResult(inputs, results, final)


def _is_file_array(value: Any, condition: Condition) -> bool:
    if not isinstance(value, list):
        return False
    if not value:  # an empty list is a file array only when the DSL says so
        return condition.sub_variable_condition is not None
    return all(isinstance(item, File) for item in value)


def template_text(template: str, pool: VariablePool) -> str:
    """Dify's `convert_template(...).text`: unresolved references keep their bare path."""
    parts: list[str] = []
    for segment in parse(template):
        if isinstance(segment, str):
            parts.append(segment)
            continue
        value = pool.get(segment.selector)
        parts.append(".".join(segment.selector) if value is MISSING else segment_text(value))
    return "".join(parts)


def segment_text(value: Any) -> str:
    """Dify's `Segment.text` for a plain value."""
    if value is None or isinstance(value, File):
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        if not value or all(isinstance(v, File) for v in value):
            return ""
        if all(isinstance(v, str) for v in value):
            return json.dumps(value, ensure_ascii=False)
    return str(value)


def _expected_value(actual: Any, expected: ConditionValue, pool: VariablePool) -> Any:
    if isinstance(expected, str) and "{{#" in expected:
        expected = template_text(expected, pool)
    if expected is None:
        return None
    if isinstance(actual, bool) or _is_bool_list(actual):
        if isinstance(expected, list):
            return [_to_bool(item) for item in expected]
        return _to_bool(expected)
    return expected


def _is_bool_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, bool) for v in value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, int):  # bool included
        return bool(value)
    if isinstance(value, str):
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError:
            loaded = None
        if isinstance(loaded, int):
            return bool(loaded)
    raise ConditionError(f"unexpected value: type={type(value)}, value={value}")


def compare(operator: str, value: Any, expected: Any) -> bool:
    """Apply one Dify comparison operator to an actual and an expected value."""
    check = _OPERATORS.get(operator)
    if check is None:
        raise ConditionError(f"Unsupported operator: {operator}")
    return check(value, expected)


def _contains(value: Any, expected: Any) -> bool:
    if not value:
        return False
    if isinstance(value, str):
        return str(expected) in value
    if isinstance(value, list):
        return expected in value
    raise ConditionError("Invalid actual value type: string or array")


def _not_contains(value: Any, expected: Any) -> bool:
    if not value:
        return True
    return not _contains(value, expected)


def _start_or_end(value: Any, expected: Any, *, start: bool) -> bool:
    if not value:
        return False
    if not isinstance(value, str):
        raise ConditionError("Invalid actual value type: string")
    if not isinstance(expected, str):
        verb = "startswith" if start else "endswith"
        raise ConditionError(f"Expected value must be a string for {verb}")
    return value.startswith(expected) if start else value.endswith(expected)


def _is(value: Any, expected: Any, *, negate: bool = False) -> bool:
    if value is None:
        return False
    if not isinstance(value, str | bool):
        raise ConditionError("Invalid actual value type: string or boolean")
    return bool(value != expected) if negate else bool(value == expected)


def _equality_operand(value: Any, expected: Any) -> Any:
    """Dify casts the expected value to the actual value's type for = and ≠."""
    cast: type[bool] | type[int] | type[float]
    accepted: tuple[type, ...]
    if isinstance(value, bool):
        cast, accepted = bool, (bool, int, str)
    elif isinstance(value, int):
        cast, accepted = int, (int, float, str)
    elif isinstance(value, float):
        cast, accepted = float, (int, float, str)
    else:
        raise ConditionError("Invalid actual value type: number or boolean")
    if not isinstance(expected, accepted):
        raise ConditionError(f"Cannot convert {type(expected)} to {cast.__name__}")
    try:
        return cast(expected)
    except ValueError as exc:
        raise ConditionError(f"Cannot convert '{expected}' to number") from exc


def _numeric_operands(value: Any, expected: Any) -> tuple[float | int, float | int]:
    if not isinstance(value, int | float):
        raise ConditionError("Invalid actual value type: number")
    if isinstance(expected, str):
        try:
            number = float(expected)
        except ValueError as exc:
            raise ConditionError(f"Cannot convert '{expected}' to number") from exc
        if isinstance(value, int) and number.is_integer():
            return value, int(number)
        return float(value), number
    if isinstance(expected, int | float):
        return value, expected
    raise ConditionError(f"Cannot convert {type(expected)} to number")


def _numeric(check: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def compare_numbers(value: Any, expected: Any) -> bool:
        if value is None:
            return False
        left, right = _numeric_operands(value, expected)
        return check(left, right)

    return compare_numbers


def _equal(value: Any, expected: Any, *, negate: bool = False) -> bool:
    if value is None:
        return False
    operand = _equality_operand(value, expected)
    return bool(value != operand) if negate else bool(value == operand)


def _in(value: Any, expected: Any) -> bool:
    if not value:
        return False
    if not isinstance(expected, list):
        raise ConditionError("Invalid expected value type: array")
    return value in expected


def _not_in(value: Any, expected: Any) -> bool:
    if not value:
        return True
    if not isinstance(expected, list):
        raise ConditionError("Invalid expected value type: array")
    return value not in expected


def _all_of(value: Any, expected: Any) -> bool:
    homogeneous = isinstance(expected, list) and (
        all(isinstance(i, str) for i in expected) or all(isinstance(i, bool) for i in expected)
    )
    if not homogeneous:
        raise ConditionError("all of operator expects homogeneous list of strings or booleans")
    if not value:
        return False
    if isinstance(value, list | tuple | set | str):
        return all(item in value for item in expected)
    return False


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": _contains,
    "not contains": _not_contains,
    "start with": lambda v, e: _start_or_end(v, e, start=True),
    "end with": lambda v, e: _start_or_end(v, e, start=False),
    "is": _is,
    "is not": lambda v, e: _is(v, e, negate=True),
    "empty": lambda v, _: not v,
    "not empty": lambda v, _: bool(v),
    "=": _equal,
    "≠": lambda v, e: _equal(v, e, negate=True),
    ">": _numeric(lambda a, b: a > b),
    "<": _numeric(lambda a, b: a < b),
    "≥": _numeric(lambda a, b: a >= b),
    "≤": _numeric(lambda a, b: a <= b),
    "null": lambda v, _: v is None,
    "not null": lambda v, _: v is not None,
    "in": _in,
    "not in": _not_in,
    "all of": _all_of,
    "exists": lambda v, _: v is not None,
    "not exists": lambda v, _: v is None,
}


def _file_attribute(file: File, key: str) -> Any:
    if key == "type":
        return file.type
    if key == "transfer_method":
        return file.transfer_method
    if key in ("name", "size", "mime_type", "url", "extension", "related_id"):
        return file.attribute(key)
    raise ConditionError(f"'{key}' is not a valid file attribute")


def _with_dot(value: Any) -> Any:
    return "." + value if isinstance(value, str) and value and not value.startswith(".") else value


def _file_sub_conditions(files: list[File], sub: SubVariableCondition) -> bool:
    """Each sub-condition tests one attribute of every file; a `not ...` operator must hold
    for all files, any other operator for at least one."""
    results: list[bool] = []
    for condition in sub.conditions:
        values = [_file_attribute(file, condition.key) for file in files]
        expected: Any = condition.value
        if condition.key == "extension":
            if not isinstance(expected, str):
                raise ConditionError(
                    "Expected value must be a string when key is FileAttribute.EXTENSION"
                )
            expected = _with_dot(expected)
            values = [_with_dot(v) for v in values]
        matches = [compare(condition.comparison_operator, v, expected) for v in values]
        results.append(all(matches) if "not" in condition.comparison_operator else any(matches))
    return all(results) if sub.logical_operator == "and" else any(results)
