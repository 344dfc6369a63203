"""The served OpenAPI document: Dify's seed spec plus this server's additions.

`seed.json` is Dify's Chatflow App API spec (OpenAPI 3.0.1), copied unchanged from the
project's seed documents. Every seed operation is served exactly as written, even where
real Dify (and so this server) differs on the wire; those differences are listed in
`docs/compat.md`. Routes the seed does not describe (workflow run/stop, human-input
submit, stream resumption, ...) are taken from FastAPI's generated document and brought
down to OpenAPI 3.0 so that the whole document stays one dialect. Only `servers` is
rewritten, to this server's own `/v1`, so "Try it out" in the docs page works.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

JSONDict = dict[str, Any]

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
ERROR_SCHEMA = "ErrorResponse"
# FastAPI's own validation-error models: this server answers 400 envelopes instead of 422.
_FASTAPI_ONLY_SCHEMAS = frozenset(("HTTPValidationError", "ValidationError"))


@cache
def _seed_text() -> str:
    return (resources.files(__package__) / "seed.json").read_text(encoding="utf-8")


def load_seed() -> JSONDict:
    """A fresh copy of Dify's seed spec."""
    seed: JSONDict = json.loads(_seed_text())
    return seed


def seed_operations(spec: Mapping[str, Any]) -> dict[tuple[str, str], JSONDict]:
    """`(METHOD, path)` -> operation object, for every operation in `spec`."""
    return {
        (method.upper(), path): op
        for path, item in spec.get("paths", {}).items()
        for method, op in item.items()
        if method in METHODS
    }


def _nullable(schemas: list[Any]) -> JSONDict | None:
    """`anyOf: [X, {type: null}]` (3.1) as X with `nullable: true` (3.0)."""
    rest = [s for s in schemas if s != {"type": "null"}]
    if len(rest) == len(schemas):
        return None
    if len(rest) == 1:
        only = rest[0]
        inner = {"allOf": [only]} if "$ref" in only else dict(only)
        return {**inner, "nullable": True}
    return {"anyOf": rest, "nullable": True}


def to_openapi30(node: Any) -> Any:
    """Rewrite the JSON Schema 2020-12 forms pydantic emits into OpenAPI 3.0 ones."""
    if isinstance(node, list):
        return [to_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for combinator in ("anyOf", "oneOf"):
        if isinstance(node.get(combinator), list):
            nullable = _nullable(node[combinator])
            if nullable is not None:
                del node[combinator]
                node.update(nullable)
    if node.get("type") == "null":
        # A lone `null` (a field typed `None`): 3.0 spells it as a nullable anything.
        del node["type"]
        node["nullable"] = True
    out: JSONDict = {}
    for key, value in node.items():
        if key == "const":
            out["enum"] = [value]
        elif key == "examples" and isinstance(value, list):
            if value:
                out["example"] = to_openapi30(value[0])
        else:
            out[key] = to_openapi30(value)
    return out


def _error_response(description: str) -> JSONDict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}
        },
    }


_ERROR_COMPONENT: JSONDict = {
    "type": "object",
    "description": "Dify's error envelope, sent with every non-2xx status.",
    "required": ["code", "message", "status"],
    "properties": {
        "code": {"type": "string", "example": "invalid_param"},
        "message": {"type": "string"},
        "status": {"type": "integer", "example": 400},
    },
}


def _addition(op: JSONDict) -> JSONDict:
    """A generated operation in the seed's style: 3.0 schemas, Dify's error responses."""
    op = to_openapi30(copy.deepcopy(op))
    responses: JSONDict = op.setdefault("responses", {})
    responses.pop("422", None)
    responses.setdefault("400", _error_response("Invalid request (`invalid_param`, ...)."))
    responses.setdefault("401", _error_response("Missing or invalid API key."))
    return op


def _refs(node: Any) -> set[str]:
    """Names of the component schemas `node` references."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _refs(item)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs(value)
    return found


def merge(seed: JSONDict, generated: Mapping[str, Any], *, prefix: str) -> JSONDict:
    """`seed` plus every operation of `generated` (paths under `prefix`) the seed lacks."""
    doc = copy.deepcopy(seed)
    doc["servers"] = [{"url": prefix, "description": "This server."}]
    known = seed_operations(seed)
    seed_schemas: Mapping[str, Any] = seed["components"]["schemas"]
    gen_schemas: Mapping[str, Any] = generated.get("components", {}).get("schemas", {})
    schemas: JSONDict = doc["components"]["schemas"]
    if ERROR_SCHEMA in seed_schemas:
        raise ValueError(f"{ERROR_SCHEMA!r} clashes with a seed schema")
    schemas[ERROR_SCHEMA] = copy.deepcopy(_ERROR_COMPONENT)
    tag_names = {tag["name"] for tag in doc.get("tags", [])}
    wanted: set[str] = set()
    for full_path, item in generated.get("paths", {}).items():
        path = full_path.removeprefix(prefix)
        for method, op in item.items():
            if method not in METHODS or (method.upper(), path) in known:
                continue
            added = _addition(op)
            doc["paths"].setdefault(path, {})[method] = added
            wanted |= _refs(added)
            for tag in added.get("tags", []):
                if tag not in tag_names:
                    doc.setdefault("tags", []).append({"name": tag})
                    tag_names.add(tag)
    # Copy the generated models the additions reference, and the ones those reference.
    pending = sorted(wanted - {ERROR_SCHEMA})
    while pending:
        name = pending.pop()
        if name in seed_schemas and name in gen_schemas:
            raise ValueError(f"generated model {name!r} clashes with a seed schema")
        if name in schemas or name in _FASTAPI_ONLY_SCHEMAS:
            continue
        schemas[name] = to_openapi30(copy.deepcopy(gen_schemas[name]))
        pending.extend(sorted(_refs(schemas[name])))
    return doc


def operation_id(route: APIRoute) -> str:
    """Operation ids from route names (`run_workflow`), not FastAPI's path-derived ones;
    pass as the app's `generate_unique_id_function`."""
    return route.name


def build_document(app: FastAPI, *, prefix: str) -> JSONDict:
    """The document `app` serves: seed spec + the app's routes the seed lacks."""
    generated = get_openapi(title=app.title, version=app.version, routes=app.routes)
    return merge(load_seed(), generated, prefix=prefix)
