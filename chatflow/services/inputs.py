"""Checks a turn's `inputs` against the app's start-node form, with Dify's messages.

The form is Dify's `/parameters` `user_input_form`: a list of one-key dicts such as
`{"text-input": {"variable", "label", "required", "max_length", "default"}}`. Only a new
conversation's inputs are checked; a continued conversation keeps its stored inputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chatflow.errors import InvalidRequest

_STRING_TYPES = {"text-input", "paragraph", "select"}


def _number(name: str, value: Any) -> int | float | None:
    if isinstance(value, bool):
        raise InvalidRequest(f"{name} in input form must be a valid number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            raise InvalidRequest(f"{name} in input form must be a valid number") from None
    raise InvalidRequest(f"{name} in input form must be a valid number")


def _check(kind: str, spec: Mapping[str, Any], value: Any) -> Any:
    name = str(spec.get("variable", ""))
    if value is None:
        if spec.get("required"):
            raise InvalidRequest(f"{name} is required in input form")
        default = spec.get("default")
        return None if default in (None, "") else default
    if kind in _STRING_TYPES and not isinstance(value, str):
        raise InvalidRequest(f"(type '{kind}') {name} in input form must be a string")
    if kind == "number":
        return _number(name, value)
    if kind == "select":
        options = list(spec.get("options") or [])
        if value not in options:
            raise InvalidRequest(f"{name} in input form must be one of the following: {options}")
    elif kind in ("text-input", "paragraph"):
        max_length = spec.get("max_length")
        if isinstance(max_length, int) and max_length > 0 and len(value) > max_length:
            raise InvalidRequest(
                f"{name} in input form must be less than {max_length} characters"
            )
    elif kind == "checkbox" and not isinstance(value, bool):
        raise InvalidRequest(f"{name} in input form must be a valid boolean value")
    if isinstance(value, str):
        # Dify strips NUL bytes: databases and templates choke on them.
        value = value.replace("\x00", "")
    return value


def validate_inputs(
    form: Sequence[Mapping[str, Any]], inputs: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The checked inputs: every form variable present (None when optional and missing),
    numbers converted from strings, defaults filled in. Unknown keys are dropped, as in Dify.
    """
    given = dict(inputs or {})
    checked: dict[str, Any] = {}
    for item in form:
        for kind, spec in item.items():
            if not isinstance(spec, Mapping) or not spec.get("variable"):
                continue
            name = str(spec["variable"])
            checked[name] = _check(kind, spec, given.get(name))
    return checked


def wire_inputs(inputs: Mapping[str, Any] | None) -> dict[str, str]:
    """Inputs as the API returns them: `{str: str}` (some SDKs declare exactly that)."""
    out: dict[str, str] = {}
    for key, value in (inputs or {}).items():
        if value is None:
            out[key] = ""
        elif isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, int | float):
            out[key] = str(value)
        else:
            out[key] = json.dumps(value, ensure_ascii=False, default=str)
    return out
