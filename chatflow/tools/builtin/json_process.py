"""The `json_process` provider (Dify's built-in JSON tools): parse/extract by JSONPath,
insert, replace (pattern, key or value) and delete.

Paths are JSONPath (`$.a.b[0]`, `$..name`, filters) through `jsonpath-ng`; every tool
takes the JSON as text in `content` and answers with text, as Dify's do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from jsonpath_ng import DatumInContext, JSONPath
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext.parser import parse as parse_path

from chatflow.tools.base import TextMessage, ToolContext, ToolDescriptor, ToolError, ToolParameter
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

if TYPE_CHECKING:
    from chatflow.settings import Settings

ID = "json_process"


def _load(params: Mapping[str, Any]) -> Any:
    content = params.get("content")
    if isinstance(content, dict | list):
        return content
    text = required_text(params, "content")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ToolError(f"Invalid JSON content: {error}") from error


def _path(params: Mapping[str, Any], name: str = "query") -> JSONPath:
    text = required_text(params, name)
    try:
        return parse_path(text)
    except (JsonPathParserError, Exception) as error:
        raise ToolError(f"Invalid JSONPath {text!r}: {error}") from error


def _dump(value: Any, params: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=bool(params.get("ensure_ascii", False)))


def _value(raw: Any) -> Any:
    """A new value as given: JSON text is parsed, anything else kept as it is."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


async def json_parse(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    data = _load(params)
    if not text_param(params, "json_filter").strip():
        yield TextMessage(_dump(data, params))
        return
    found = [match.value for match in _path(params, "json_filter").find(data)]
    if not found:
        yield TextMessage("")
        return
    result = found[0] if len(found) == 1 else found
    if isinstance(result, dict | list):
        yield TextMessage(_dump(result, params))
    else:
        yield TextMessage(str(result))


def _index(match: DatumInContext) -> int | None:
    indices: tuple[Any, ...] = tuple(getattr(match.path, "indices", None) or ())
    return int(indices[0]) if len(indices) == 1 else None


def _set_at(match: DatumInContext, root: Any, value: Any) -> Any:
    """Replace the matched value in its parent (or return the new root)."""
    parent = match.context.value if match.context is not None else None
    if parent is None:
        return value
    key = getattr(match.path, "fields", None)
    index = _index(match)
    if isinstance(parent, dict) and key:
        parent[key[0]] = value
    elif isinstance(parent, list) and index is not None:
        parent[index] = value
    return root


async def json_insert(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    data = _load(params)
    path = _path(params)
    new_value = _value(params.get("new_value"))
    raw_index = params.get("index")
    index = int(raw_index) if raw_index not in (None, "") else None
    matches = path.find(data)
    if not matches:
        if not params.get("create_path"):
            raise ToolError(f"Path not found: {text_param(params, 'query')}")
        data = path.update_or_create(data, new_value)
    for match in matches:
        target = match.value
        if isinstance(target, list):
            if index is None:
                target.append(new_value)
            else:
                target.insert(index, new_value)
        elif isinstance(target, dict) and isinstance(new_value, dict):
            target.update(new_value)
        else:
            data = _set_at(match, data, new_value)
    yield TextMessage(_dump(data, params))


async def json_replace(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    data = _load(params)
    path = _path(params)
    model = text_param(params, "replace_model", "pattern")
    replacement = params.get("replace_value")
    for match in path.find(data):
        if model == "pattern":
            pattern = text_param(params, "replace_pattern")
            if isinstance(match.value, str) and pattern:
                data = _set_at(match, data, match.value.replace(pattern, str(replacement or "")))
        elif model == "key":
            parent = match.context.value if match.context is not None else None
            fields = getattr(match.path, "fields", None)
            if isinstance(parent, dict) and fields and fields[0] in parent:
                parent[str(replacement)] = parent.pop(fields[0])
        elif model == "value":
            data = _set_at(match, data, _value(replacement))
        else:
            raise ToolError(f"replace_model must be pattern, key or value, got {model!r}")
    yield TextMessage(_dump(data, params))


async def json_delete(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    data = _load(params)
    path = _path(params)
    data = path.filter(lambda _: True, data)
    yield TextMessage(_dump(data, params))


def _content() -> ToolParameter:
    return ToolParameter("content", "string", "JSON", "The JSON text", required=True)


def _query(name: str = "query", required: bool = True) -> ToolParameter:
    return ToolParameter(name, "string", "JSONPath", "e.g. $.items[0].name", required=required)


def _ascii() -> ToolParameter:
    return ToolParameter("ensure_ascii", "boolean", "Escape non-ASCII", default=False, form="form")


def provider(settings: Settings) -> BuiltinProvider:
    def tool(name: str, description: str, *params: ToolParameter) -> ToolDescriptor:
        return ToolDescriptor(ID, name, name.replace("_", " ").title(), description, params)

    tools = [
        FunctionTool(
            tool(
                "parse",
                "Extract data from JSON by JSONPath.",
                _content(),
                _query("json_filter", required=False),
                _ascii(),
            ),
            json_parse,
        ),
        FunctionTool(
            tool(
                "json_insert",
                "Insert a value into JSON at a path.",
                _content(),
                _query(),
                ToolParameter("new_value", "string", "New value", required=True),
                ToolParameter("index", "number", "Index in a list"),
                ToolParameter("create_path", "boolean", "Create path", default=False),
                _ascii(),
            ),
            json_insert,
        ),
        FunctionTool(
            tool(
                "json_replace",
                "Replace a pattern, a key or a value in JSON at a path.",
                _content(),
                _query(),
                ToolParameter("replace_pattern", "string", "Pattern"),
                ToolParameter("replace_value", "string", "Replacement", required=True),
                ToolParameter(
                    "replace_model",
                    "select",
                    "Replace",
                    default="pattern",
                    options=("pattern", "key", "value"),
                    form="form",
                ),
                _ascii(),
            ),
            json_replace,
        ),
        FunctionTool(
            tool(
                "json_delete",
                "Delete what a path matches from JSON.",
                _content(),
                _query(),
                _ascii(),
            ),
            json_delete,
        ),
    ]
    return BuiltinProvider(
        ID, ("langgenius/json_process/json_process", "json"), "JSON Process", tools
    )
