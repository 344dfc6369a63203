"""Tool arguments that arrive as text, converted to the JSON schema type a tool declares.

A tool node's `mixed` parameters are rendered templates, so a number or an object
reaches the tool as a string; remote tools (OpenAPI, MCP) validate types, so the
value is converted where it parses and passed on unchanged where it does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """Text to the schema's type where it parses; anything else is passed on as it is."""
    if not isinstance(value, str):
        return value
    kind = schema.get("type")
    if isinstance(kind, list):  # ["integer", "null"]: the first non-null type
        kind = next((k for k in kind if k != "null"), None)
    text = value.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "boolean" and text.lower() in ("true", "false", "1", "0", "yes", "no"):
            return text.lower() in ("true", "1", "yes")
        if kind in ("object", "array"):
            return json.loads(text)
    except ValueError:
        return value
    return value


def coerce_arguments(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Each argument converted by its property schema; empty values (None, "") dropped,
    as Dify does before calling a remote tool."""
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    converted: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        sub = properties.get(name)
        converted[name] = coerce(value, sub) if isinstance(sub, Mapping) else value
    return converted
