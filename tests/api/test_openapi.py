"""The served OpenAPI document stays in sync with the app and with Dify's seed spec.

Every route the app serves is documented; every seed operation and schema is served
exactly as the seed writes it (its differences from real Dify are in docs/compat.md, not
patched into the document); additions are plain OpenAPI 3.0. `/docs` works offline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.routing import iter_route_contexts
from schemathesis.core.result import Err

from chatflow.api import create_app
from chatflow.api.openapi import DOCS_URL, load_seed, seed_operations
from chatflow.api.openapi.document import to_openapi30
from chatflow.settings import Settings

from .conftest import LiveServer

SEED_FILE = Path(__file__).parents[2].parent / "shared" / "seeds" / "chatflow_openapi.json"
# Routes that are not API operations: the document itself and the docs page.
# The docs themselves and the chat page (`routes/web.py`) are not Service API routes.
UNDOCUMENTED = {"/v1/openapi.json", DOCS_URL, "/", "/web/{version}/{name}"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("data"), model_backend="fake"))


@pytest.fixture(scope="module")
def document(app: Any) -> dict[str, Any]:
    doc: dict[str, Any] = app.openapi()
    return doc


def served_routes(app: Any) -> set[tuple[str, str]]:
    """`(METHOD, path)` for every route of the Service API (`/v1`), mounts excluded; the
    chat page and `/docs` are not part of it."""
    routes: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        methods, path = context.methods, context.path_format
        if not methods or path is None or path in UNDOCUMENTED or not path.startswith("/v1/"):
            continue
        routes |= {(m, path) for m in methods if m not in ("HEAD", "OPTIONS")}
    return routes


def test_the_packaged_seed_is_the_seed_document() -> None:
    if not SEED_FILE.exists():
        pytest.skip(f"{SEED_FILE} is not beside this checkout")
    assert load_seed() == json.loads(SEED_FILE.read_text(encoding="utf-8"))


def test_every_served_route_is_documented(app: Any, document: dict[str, Any]) -> None:
    routes = served_routes(app)
    assert ("POST", "/v1/chat-messages") in routes and len(routes) >= 28
    documented = {(m, "/v1" + p) for m, p in seed_operations(document)}
    assert routes - documented == set()
    # ...and nothing is documented that the app does not serve.
    assert documented - routes == set()


def test_seed_operations_and_schemas_are_served_unchanged(document: dict[str, Any]) -> None:
    seed = load_seed()
    served = seed_operations(document)
    for key, op in seed_operations(seed).items():
        assert served[key] == op, key
    for name, schema in seed["components"]["schemas"].items():
        assert document["components"]["schemas"][name] == schema, name
    for top in ("openapi", "info", "security"):
        assert document[top] == seed[top]
    assert document["components"]["securitySchemes"] == seed["components"]["securitySchemes"]
    assert document["tags"][: len(seed["tags"])] == seed["tags"]
    assert document["servers"] == [{"url": "/v1", "description": "This server."}]


def test_documented_additions(document: dict[str, Any]) -> None:
    seed_keys = set(seed_operations(load_seed()))
    added = {k: op for k, op in seed_operations(document).items() if k not in seed_keys}
    assert ("POST", "/workflows/run") in added
    assert ("POST", "/workflows/tasks/{task_id}/stop") in added
    ids = [op["operationId"] for op in seed_operations(document).values()]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    for key, op in added.items():
        assert re.fullmatch(r"[a-z_]+", op["operationId"]), key
        assert "422" not in op["responses"], key  # errors are 400 envelopes, never 422
        assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
    # One dialect: no JSON Schema 2020-12 leftovers from FastAPI's 3.1 output.
    text = json.dumps(document)
    assert '"type": "null"' not in text and '"const"' not in text
    assert "HTTPValidationError" not in text


def test_the_document_loads_and_resolves(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    results = list(schema.get_all_operations())
    errors = [r for r in results if isinstance(r, Err)]
    assert errors == [] and len(results) == len(seed_operations(document))


def test_nullable_conversion() -> None:
    pydantic_31 = {
        "anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}],
        "examples": [1, 2],
        "properties": {"k": {"const": "a"}, "n": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    }
    assert to_openapi30(pydantic_31) == {
        "allOf": [{"$ref": "#/components/schemas/X"}],
        "nullable": True,
        "example": 1,
        "properties": {"k": {"enum": ["a"]}, "n": {"type": "string", "nullable": True}},
    }


def test_openapi_json_is_served(server: LiveServer) -> None:
    response = httpx.get(server.base_url + "/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["openapi"] == "3.0.1" and "/chat-messages" in body["paths"]


def test_swagger_ui_is_served_without_a_cdn(server: LiveServer) -> None:
    root = server.base_url.removesuffix("/v1")
    page = httpx.get(root + DOCS_URL)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith(DOCS_URL + "/static/") for a in assets), assets
    assert "'/v1/openapi.json'" in page.text
    for asset in assets:
        fetched = httpx.get(root + asset)
        assert fetched.status_code == 200 and len(fetched.content) > 100, asset
    bundle = httpx.get(root + DOCS_URL + "/static/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    missing = httpx.get(root + DOCS_URL + "/static/nope.js")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
