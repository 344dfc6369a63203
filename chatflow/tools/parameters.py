"""A tool's parameters as its descriptor declares them: defaults, required, types.

Node bindings arrive as whatever the variable pool holds (`mixed` templates are always
text), so numbers and booleans are converted as Dify's tool parameter types do; a
required parameter that is missing fails the call with its name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chatflow.tools.base import ToolDescriptor, ToolError, ToolParameter

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off", ""}


def _number(parameter: ToolParameter, value: Any) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value) if parameter.type == "integer" else value
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError as error:
        raise ToolError(f"parameter '{parameter.name}' must be a number, got {value!r}") from error
    if parameter.type == "integer" or ("." not in text and "e" not in text.lower()):
        return int(number)
    return number


def _boolean(parameter: ToolParameter, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ToolError(f"parameter '{parameter.name}' must be a boolean, got {value!r}")


def _structured(parameter: ToolParameter, value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ToolError(f"parameter '{parameter.name}' must be JSON, got {value!r}") from error
    return value


def convert(parameter: ToolParameter, value: Any) -> Any:
    """One value converted to the parameter's type (None stays None)."""
    if value is None:
        return None
    if parameter.type in ("number", "integer"):
        if isinstance(value, str) and not value.strip():
            return None
        return _number(parameter, value)
    if parameter.type == "boolean":
        return _boolean(parameter, value)
    if parameter.type in ("object", "array"):
        return _structured(parameter, value)
    if parameter.type in ("string", "secret-input", "select") and not isinstance(value, str):
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return str(value)
    return value


def prepare(descriptor: ToolDescriptor, given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults filled in, values converted, required ones checked; extras pass through."""
    values = dict(given)
    for parameter in descriptor.parameters:
        value = values.get(parameter.name)
        if value is None or (isinstance(value, str) and value == "" and parameter.default):
            value = parameter.default
        value = convert(parameter, value)
        if parameter.required and (value is None or value == ""):
            raise ToolError(
                f"tool '{descriptor.name}' needs parameter '{parameter.name}'"
                + (f" ({parameter.label})" if parameter.label else "")
            )
        values[parameter.name] = value
    return values
