"""One OpenAPI operation as a tool: parameters in, one HTTP request out, the response back.

Parameters follow Dify's API tools: path, query, header and cookie parameters keep their
names; a JSON or form body whose schema is an object is flattened into one parameter per
property (a body of any other shape is the single parameter `body`). Values that arrive
as text (a `mixed` template in a tool node) are converted to the schema's type. The
request goes through the tool context's SSRF-guarded client with the operator's headers
(`${VAR}` references read from the environment per call). A JSON object response yields
a json message and its text, as Dify's API tools do; a binary response yields a blob.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from chatflow.tools import secrets
from chatflow.tools.base import (
    BlobMessage,
    JsonMessage,
    ParameterType,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolNotConfigured,
    ToolParameter,
)
from chatflow.tools.coerce import coerce
from chatflow.tools.openapi.spec import Operation

BODY = "body"
_TEXT_TYPES = ("json", "text/", "xml", "javascript", "x-www-form-urlencoded", "yaml")
_MAX_ERROR_TEXT = 500
# RFC 6265 cookie-octets that need no escaping (space, quotes, comma, ; and \ do).
_COOKIE_SAFE = "!#$%&'()*+-./:<=>?@[]^_`{|}~"


@dataclass(frozen=True, slots=True)
class SchemaDescriptor(ToolDescriptor):
    """A descriptor whose `json_schema` keeps the spec's schemas (items, formats, enums)."""

    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def json_schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for parameter in self.parameters:
            schema = dict(self.schemas.get(parameter.name) or {"type": "string"})
            if parameter.description and "description" not in schema:
                schema["description"] = parameter.description
            properties[parameter.name] = schema
        required = [p.name for p in self.parameters if p.required]
        return {"type": "object", "properties": properties, "required": required}


def _parameter_type(schema: Mapping[str, Any]) -> ParameterType:
    if schema.get("enum"):
        return "select"
    kind = schema.get("type")
    if kind in ("number", "integer", "boolean", "object", "array"):
        return kind  # type: ignore[no-any-return]
    return "string"


def _tool_parameter(
    name: str, schema: Mapping[str, Any], description: str, required: bool
) -> ToolParameter:
    return ToolParameter(
        name=name,
        type=_parameter_type(schema),
        label=name,
        description=description or str(schema.get("description") or ""),
        required=required,
        default=schema.get("default"),
        options=tuple(str(option) for option in schema.get("enum") or ()),
        form="llm",
    )


def _body_fields(operation: Operation) -> Mapping[str, Any] | None:
    """The body's properties when they can be flattened without clashing with a parameter."""
    if operation.body is None or operation.body.properties is None:
        return None
    taken = {parameter.name for parameter in operation.parameters}
    properties = operation.body.properties
    return None if taken & set(properties) else properties


def describe(provider: str, operation: Operation) -> SchemaDescriptor:
    parameters = [
        _tool_parameter(p.name, p.schema, p.description, p.required) for p in operation.parameters
    ]
    schemas = {p.name: p.schema for p in operation.parameters}
    body = operation.body
    fields = _body_fields(operation)
    if body is not None and fields is not None:
        required = set(body.schema.get("required") or ())
        for name, schema in fields.items():
            schema = schema if isinstance(schema, Mapping) else {}
            parameters.append(_tool_parameter(name, schema, "", name in required))
            schemas[name] = schema
    elif body is not None:
        schema = body.schema or {"type": "string"}
        parameters.append(_tool_parameter(BODY, schema, body.description, body.required))
        schemas[BODY] = schema
    return SchemaDescriptor(
        provider=provider,
        name=operation.name,
        label=operation.name,
        description=operation.summary,
        parameters=tuple(parameters),
        schemas=schemas,
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _present(value: Any) -> bool:
    return value is not None and value != ""


class OpenApiTool:
    """Calls `operation` with the operator's `headers` (values may hold `${VAR}`)."""

    def __init__(
        self, provider: str, operation: Operation, headers: Mapping[str, str] | None = None
    ) -> None:
        self.operation = operation
        self.headers = dict(headers or {})
        self.descriptor: ToolDescriptor = describe(provider, operation)

    def build_request(self, client: httpx.AsyncClient, values: Mapping[str, Any]) -> httpx.Request:
        operation = self.operation
        for declared in self.descriptor.parameters:
            if declared.required and not _present(values.get(declared.name)):
                raise ToolError(f"{operation.name}: parameter '{declared.name}' is required")
        path = operation.path
        query: list[tuple[str, str | int | float | bool | None]] = []
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for parameter in operation.parameters:
            value = values.get(parameter.name)
            if not _present(value):
                value = parameter.schema.get("default")
            if not _present(value):
                continue
            value = coerce(value, parameter.schema)
            if parameter.location == "path":
                path = path.replace("{" + parameter.name + "}", quote(_text(value), safe=""))
            elif parameter.location == "query":
                items = value if isinstance(value, list) else [value]
                query.extend((parameter.name, _text(item)) for item in items)
            elif parameter.location == "header":
                headers[parameter.name] = _text(value)
            else:
                cookies.append(f"{parameter.name}={quote(_text(value), safe=_COOKIE_SAFE)}")
        try:
            headers.update(secrets.expand(self.headers))
        except secrets.MissingSecret as exc:
            raise ToolNotConfigured(
                f"{operation.name}: set the environment variable(s) {exc} its headers use"
            ) from None
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        url = operation.server_url.rstrip("/") + path
        kwargs = self._body(values, headers)
        return client.build_request(
            operation.method, url, params=httpx.QueryParams(query), headers=headers, **kwargs
        )

    def _body(self, values: Mapping[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        body = self.operation.body
        if body is None:
            return {}
        fields = _body_fields(self.operation)
        if fields is not None:
            payload = {
                name: coerce(values[name], schema if isinstance(schema, Mapping) else {})
                for name, schema in fields.items()
                if _present(values.get(name))
            }
        else:
            raw = values.get(BODY)
            if not _present(raw):
                return {}
            payload = coerce(raw, body.schema)
        content_type = body.content_type
        if content_type == "application/x-www-form-urlencoded" and isinstance(payload, dict):
            return {"data": {k: _text(v) for k, v in payload.items()}}
        if content_type == "multipart/form-data" and isinstance(payload, dict):
            parts = [(k, (None, _text(v).encode())) for k, v in payload.items()]
            return {"files": parts}
        if "json" in content_type:
            return {"json": payload}
        headers["Content-Type"] = content_type
        return {"content": _text(payload).encode()}

    async def invoke(
        self, parameters: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]:
        async with ctx.http() as client:
            request = self.build_request(client, parameters)
            try:
                response = await client.send(request)
            except httpx.HTTPError as exc:
                target = request.url.copy_with(query=None)
                name = self.operation.name
                raise ToolError(f"{name}: request to {target} failed: {exc}") from None
        for message in self.messages(response):
            yield message

    def messages(self, response: httpx.Response) -> list[ToolMessage]:
        if response.status_code >= 400:
            raise ToolError(
                f"{self.operation.name}: request failed with status code "
                f"{response.status_code} and {response.text[:_MAX_ERROR_TEXT]}"
            )
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and not any(kind in content_type for kind in _TEXT_TYPES):
            name = response.url.path.rsplit("/", 1)[-1] or self.operation.name
            return [BlobMessage(response.content, name, content_type)]
        text = response.text
        try:
            value = json.loads(text) if "json" in content_type or (text[:1] in ("{", "[")) else None
        except ValueError:
            value = None
        if isinstance(value, dict):
            return [JsonMessage(value), TextMessage(text)]
        return [TextMessage(text)]
