"""OpenAPI 3 and Swagger 2 documents read into `Operation`s, one per tool.

Only what a tool call needs is kept: the method, the path template, the server URL, the
parameters by location (path, query, header, cookie) with their JSON schemas, and the
request body (content type and schema). Local `$ref`s (`#/components/...`,
`#/definitions/...`) are resolved; remote refs are refused, since a spec must not make
the server fetch more documents. Names follow Dify's API tools: the `operationId`, else
the path (letters, digits, `_` and `-` kept) and the method, e.g. `pets_get`.

    operations = parse_spec(yaml_or_json_text, source_url="https://api.example.com/openapi.json")
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin

import yaml

from chatflow.errors import InvalidRequest

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
Location = Literal["path", "query", "header", "cookie"]
_LOCATIONS: tuple[str, ...] = ("path", "query", "header", "cookie")
_MAX_REF_DEPTH = 32


class SpecError(InvalidRequest):
    """An OpenAPI document this server cannot turn into tools."""


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: Location
    required: bool
    schema: Mapping[str, Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class RequestBody:
    content_type: str  # "application/json", "application/x-www-form-urlencoded", ...
    schema: Mapping[str, Any]
    required: bool = False
    description: str = ""

    @property
    def properties(self) -> Mapping[str, Any] | None:
        """The object properties a JSON or form body is built from (None for other bodies)."""
        properties = self.schema.get("properties")
        return properties if isinstance(properties, Mapping) and properties else None


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    method: str  # upper case
    path: str  # template, e.g. "/pets/{pet_id}"
    server_url: str
    summary: str
    parameters: tuple[Parameter, ...]
    body: RequestBody | None = None


def load_document(text: str) -> dict[str, Any]:
    """JSON or YAML text to the document mapping."""
    try:
        document = json.loads(text)
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"the spec is neither JSON nor YAML: {exc}") from None
    if not isinstance(document, dict):
        raise SpecError("the spec must be a JSON or YAML object")
    return document


def parse_spec(text_or_document: str | Mapping[str, Any], source_url: str = "") -> list[Operation]:
    """Every operation of an OpenAPI 3.x or Swagger 2.0 document."""
    document = (
        load_document(text_or_document)
        if isinstance(text_or_document, str)
        else dict(text_or_document)
    )
    if str(document.get("swagger", "")).startswith("2"):
        reader: _Reader = _Swagger2(document, source_url)
    elif str(document.get("openapi", "")).startswith("3"):
        reader = _OpenAPI3(document, source_url)
    else:
        raise SpecError("not an OpenAPI 3 or Swagger 2 document (no 'openapi: 3.x' or 'swagger')")
    operations = reader.operations()
    if not operations:
        raise SpecError("the spec declares no operations under 'paths'")
    names = [operation.name for operation in operations]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SpecError(f"the spec has duplicate operation names: {', '.join(duplicates)}")
    return operations


def operation_name(operation: Mapping[str, Any], path: str, method: str) -> str:
    operation_id = operation.get("operationId")
    if isinstance(operation_id, str) and operation_id.strip():
        return operation_id.strip()
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "", path.lstrip("/").replace("/", "_"))
    return f"{cleaned or 'root'}_{method}"


class _Reader(ABC):
    def __init__(self, document: Mapping[str, Any], source_url: str) -> None:
        self.document = document
        self.source_url = source_url

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """`value` with every local `$ref` replaced by its target (cycles cut at a depth)."""
        if depth > _MAX_REF_DEPTH:
            return {}
        if isinstance(value, Mapping):
            ref = value.get("$ref")
            if isinstance(ref, str):
                target = self.lookup(ref)
                siblings = {k: v for k, v in value.items() if k != "$ref"}
                merged = {**target, **siblings} if isinstance(target, Mapping) else target
                return self.resolve(merged, depth + 1)
            return {key: self.resolve(item, depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, depth + 1) for item in value]
        return value

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecError(f"only local $refs are supported, not {ref!r}")
        node: Any = self.document
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                raise SpecError(f"$ref {ref!r} points to nothing")
            node = node[part]
        return node

    def operations(self) -> list[Operation]:
        paths = self.document.get("paths")
        if not isinstance(paths, Mapping):
            return []
        found: list[Operation] = []
        for path, raw_item in paths.items():
            item = self.resolve(raw_item)
            if not isinstance(item, Mapping):
                continue
            shared = item.get("parameters") or []
            for method in METHODS:
                operation = item.get(method)
                if isinstance(operation, Mapping):
                    found.append(self.operation(str(path), method, operation, shared, item))
        return found

    def merged_parameters(self, shared: list[Any], own: list[Any]) -> list[Mapping[str, Any]]:
        """Path-item parameters overridden by the operation's (same name and location)."""
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*shared, *own]:
            if isinstance(raw, Mapping) and "name" in raw and "in" in raw:
                merged[(str(raw["name"]), str(raw["in"]))] = raw
        return list(merged.values())

    @abstractmethod
    def operation(
        self,
        path: str,
        method: str,
        operation: Mapping[str, Any],
        shared: list[Any],
        item: Mapping[str, Any],
    ) -> Operation:
        """One operation in this dialect's shape."""


class _OpenAPI3(_Reader):
    def server(self, *candidates: Any) -> str:
        for servers in candidates:
            if isinstance(servers, list) and servers and isinstance(servers[0], Mapping):
                return self.server_url(servers[0])
        return self.source_base()

    def source_base(self) -> str:
        return urljoin(self.source_url, "/") if self.source_url else ""

    def server_url(self, server: Mapping[str, Any]) -> str:
        url = str(server.get("url") or "/")
        variables = server.get("variables")
        if isinstance(variables, Mapping):
            for name, spec in variables.items():
                default = spec.get("default", "") if isinstance(spec, Mapping) else ""
                url = url.replace("{" + str(name) + "}", str(default))
        if self.source_url and "://" not in url:
            url = urljoin(self.source_url, url)
        return url

    def operation(
        self,
        path: str,
        method: str,
        operation: Mapping[str, Any],
        shared: list[Any],
        item: Mapping[str, Any],
    ) -> Operation:
        parameters = []
        for raw in self.merged_parameters(shared, operation.get("parameters") or []):
            location = str(raw["in"])
            if location not in _LOCATIONS:
                continue
            schema = raw.get("schema")
            if not isinstance(schema, Mapping):
                content = raw.get("content")
                schema = _first_schema(content) if isinstance(content, Mapping) else None
            parameters.append(
                Parameter(
                    name=str(raw["name"]),
                    location=location,  # type: ignore[arg-type]
                    required=bool(raw.get("required")) or location == "path",
                    schema=schema if isinstance(schema, Mapping) else {"type": "string"},
                    description=str(raw.get("description") or ""),
                )
            )
        body = None
        request_body = operation.get("requestBody")
        if isinstance(request_body, Mapping):
            content = request_body.get("content")
            if isinstance(content, Mapping) and content:
                content_type = _preferred_content_type(list(content))
                media = content.get(content_type)
                schema = media.get("schema") if isinstance(media, Mapping) else None
                body = RequestBody(
                    content_type=content_type,
                    schema=schema if isinstance(schema, Mapping) else {},
                    required=bool(request_body.get("required")),
                    description=str(request_body.get("description") or ""),
                )
        return Operation(
            name=operation_name(operation, path, method),
            method=method.upper(),
            path=path,
            server_url=self.server(
                operation.get("servers"), item.get("servers"), self.document.get("servers")
            ),
            summary=str(operation.get("summary") or operation.get("description") or ""),
            parameters=tuple(parameters),
            body=body,
        )


class _Swagger2(_Reader):
    def base_url(self) -> str:
        host = self.document.get("host")
        base_path = str(self.document.get("basePath") or "")
        schemes = self.document.get("schemes") or []
        scheme = "https" if "https" in schemes or not schemes else str(schemes[0])
        if isinstance(host, str) and host:
            return f"{scheme}://{host}{base_path}"
        if self.source_url:
            return urljoin(self.source_url, base_path or "/")
        return base_path

    def operation(
        self,
        path: str,
        method: str,
        operation: Mapping[str, Any],
        shared: list[Any],
        item: Mapping[str, Any],
    ) -> Operation:
        parameters: list[Parameter] = []
        body: RequestBody | None = None
        form: dict[str, Any] = {}
        form_required: list[str] = []
        consumes = operation.get("consumes") or self.document.get("consumes") or []
        for raw in self.merged_parameters(shared, operation.get("parameters") or []):
            location = str(raw["in"])
            name = str(raw["name"])
            description = str(raw.get("description") or "")
            if location == "body":
                schema = raw.get("schema")
                body = RequestBody(
                    content_type="application/json",
                    schema=schema if isinstance(schema, Mapping) else {},
                    required=bool(raw.get("required")),
                    description=description,
                )
            elif location == "formData":
                form[name] = {**_swagger2_schema(raw), "description": description}
                if raw.get("required"):
                    form_required.append(name)
            elif location in _LOCATIONS:
                parameters.append(
                    Parameter(
                        name=name,
                        location=location,  # type: ignore[arg-type]
                        required=bool(raw.get("required")) or location == "path",
                        schema=_swagger2_schema(raw),
                        description=description,
                    )
                )
        if form and body is None:
            multipart = "multipart/form-data" in consumes
            body = RequestBody(
                content_type=(
                    "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
                ),
                schema={"type": "object", "properties": form, "required": form_required},
                required=bool(form_required),
            )
        return Operation(
            name=operation_name(operation, path, method),
            method=method.upper(),
            path=path,
            server_url=self.base_url(),
            summary=str(operation.get("summary") or operation.get("description") or ""),
            parameters=tuple(parameters),
            body=body,
        )


def _swagger2_schema(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A Swagger 2 non-body parameter carries its schema keywords inline."""
    keys = ("type", "format", "items", "enum", "default", "minimum", "maximum", "pattern")
    schema = {key: raw[key] for key in keys if key in raw}
    if schema.get("type") == "file":
        schema["type"] = "string"
        schema["format"] = "binary"
    return schema or {"type": "string"}


def _first_schema(content: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for media in content.values():
        if isinstance(media, Mapping) and isinstance(media.get("schema"), Mapping):
            schema: Mapping[str, Any] = media["schema"]
            return schema
    return None


def _preferred_content_type(types: list[str]) -> str:
    """JSON first (what tools send best), then forms, then whatever comes first."""
    for wanted in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
        if wanted in types:
            return wanted
    json_like = [t for t in types if t.endswith("+json") or t.endswith("/json")]
    return json_like[0] if json_like else types[0]
