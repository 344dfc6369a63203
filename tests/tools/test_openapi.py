"""OpenAPI tools against a real pet-store server on loopback: specs (OpenAPI 3 and
Swagger 2, from a file or a URL) become tools whose calls build the request the spec
describes, through the SSRF guard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatflow.net.ssrf import SSRFBlocked, guarded_client
from chatflow.tools.base import (
    BlobMessage,
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolError,
    ToolMessage,
    ToolNotConfigured,
)
from chatflow.tools.openapi import OpenApiProvider, SpecError, parse_spec, read_spec
from tests.tools import petstore
from tests.tools.loopback import serve


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(petstore.app()) as url:
        yield url


def ctx(allow: str = "127.0.0.1") -> ToolContext:
    return ToolContext(http_factory=lambda: guarded_client(allow))


async def call(provider: OpenApiProvider, tool_name: str, **params: Any) -> list[ToolMessage]:
    tool = next(t for t in await provider.tools() if t.descriptor.name == tool_name)
    return [message async for message in tool.invoke(params, ctx())]


def json_of(messages: list[ToolMessage]) -> Any:
    return next(m.value for m in messages if isinstance(m, JsonMessage))


async def provider_from(base: str, spec: str = "openapi.json", **kw: Any) -> OpenApiProvider:
    document, source = await read_spec(f"{base}/{spec}", ssrf_allow="127.0.0.1")
    return OpenApiProvider("pets", document, source_url=source, **kw)


def test_operations_names_parameters_and_schemas() -> None:
    operations = {op.name: op for op in parse_spec(petstore.openapi3("https://api.example/v1"))}
    # operationId when given, else path + method as Dify names them.
    expected = {"listPets", "createPet", "pets_pet_id_get", "login", "photo", "status"}
    assert set(operations) == expected
    one = operations["pets_pet_id_get"]
    assert [(p.name, p.location, p.required) for p in one.parameters] == [
        ("pet_id", "path", True), ("X-Trace", "header", False), ("session", "cookie", False),
    ]  # fmt: skip
    assert one.server_url == "https://api.example/v1"
    create = operations["createPet"]
    assert create.body is not None and create.body.content_type == "application/json"
    # $refs resolved, nested ones too.
    assert create.body.schema["properties"]["owner"]["properties"]["name"] == {"type": "string"}


async def test_descriptor_offers_the_spec_schemas(base: str) -> None:
    provider = await provider_from(base)
    tools = {t.descriptor.name: t.descriptor for t in await provider.tools()}
    schema = tools["createPet"].json_schema()
    assert schema["required"] == ["name"]
    assert schema["properties"]["kind"]["enum"] == ["cat", "dog"]
    assert schema["properties"]["owner"]["type"] == "object"
    assert tools["listPets"].json_schema()["properties"]["tags"]["items"] == {"type": "string"}
    types = [p.type for p in tools["createPet"].parameters]
    assert types == ["string", "integer", "select", "object"]


async def test_query_parameters_are_converted_and_repeated(base: str) -> None:
    provider = await provider_from(base)
    messages = await call(provider, "listPets", limit="5", tags='["a", "b"]')
    assert json_of(messages) == {"limit": "5", "tags": ["a", "b"]}
    # Dify's API tools yield the JSON object and its text.
    assert json.loads(next(m.text for m in messages if isinstance(m, TextMessage)))["limit"] == "5"


async def test_json_body_from_flattened_properties(base: str) -> None:
    provider = await provider_from(base)
    messages = await call(provider, "createPet", name="Rex", age="3", owner='{"name": "Ann"}')
    assert json_of(messages) == {
        "id": 7, "received": {"name": "Rex", "age": 3, "owner": {"name": "Ann"}},
    }  # fmt: skip


async def test_path_header_cookie_and_configured_auth_header(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PETS_KEY", petstore.API_KEY)
    provider = await provider_from(base, headers={"X-Api-Key": "${PETS_KEY}"})
    assert provider.missing_configuration() is None
    params = {"pet_id": 42, "X-Trace": "t-1", "session": "abc:1/2"}
    messages = await call(provider, "pets_pet_id_get", **params)
    assert json_of(messages) == {"id": 42, "trace": "t-1", "session": "abc:1/2"}


async def test_missing_secret_names_the_variable(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PETS_KEY", raising=False)
    provider = await provider_from(base, headers={"X-Api-Key": "${PETS_KEY}"})
    assert "PETS_KEY" in (provider.missing_configuration() or "")
    with pytest.raises(ToolNotConfigured, match="PETS_KEY"):
        await call(provider, "pets_pet_id_get", pet_id=1)


async def test_error_status_fails_the_tool(base: str) -> None:
    provider = await provider_from(base, headers={"X-Api-Key": "wrong"})
    with pytest.raises(ToolError, match="status code 401"):
        await call(provider, "pets_pet_id_get", pet_id=1)


async def test_required_parameter_missing(base: str) -> None:
    provider = await provider_from(base)
    with pytest.raises(ToolError, match="'name' is required"):
        await call(provider, "createPet", age=3)


async def test_form_body_binary_and_text_responses(base: str) -> None:
    provider = await provider_from(base)
    login = json_of(await call(provider, "login", user="ann", remember=True))
    assert login["content_type"] == "application/x-www-form-urlencoded"
    assert login["form"] == {"user": "ann", "remember": "true"}
    (photo,) = await call(provider, "photo")
    assert isinstance(photo, BlobMessage)
    assert (photo.data, photo.mime_type) == (petstore.PNG, "image/png")
    assert await call(provider, "status") == [TextMessage("all good")]


async def test_swagger2_spec(base: str) -> None:
    provider = await provider_from(base, "swagger.json")
    names = {t.descriptor.name for t in await provider.tools()}
    assert names == {"listPets", "createPet", "login_post"}
    assert json_of(await call(provider, "listPets", limit=2))["limit"] == "2"
    created = json_of(await call(provider, "createPet", name="Tom", age="4"))
    assert created["received"] == {"name": "Tom", "age": 4}
    login = json_of(await call(provider, "login_post", user="bob"))
    assert login["form"] == {"user": "bob"}


async def test_spec_from_a_yaml_file(base: str, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "pets.yaml"
    path.write_text(yaml.safe_dump(petstore.openapi3(f"{base}/v1")), encoding="utf-8")
    document, source = await read_spec(str(path))
    provider = OpenApiProvider("pets", document, source_url=source)
    assert await call(provider, "status") == [TextMessage("all good")]


async def test_ssrf_guard_refuses_loopback_unless_allowed(base: str) -> None:
    provider = await provider_from(base)
    tool = next(t for t in await provider.tools() if t.descriptor.name == "status")
    with pytest.raises(SSRFBlocked):
        [m async for m in tool.invoke({}, ctx(allow=""))]
    with pytest.raises(SSRFBlocked):
        await read_spec(f"{base}/openapi.json")


@pytest.mark.parametrize(
    "document, message",
    [
        ({"info": {}}, "not an OpenAPI 3 or Swagger 2"),
        ({"openapi": "3.0.0", "paths": {}}, "no operations"),
        (
            {
                "openapi": "3.0.0",
                "paths": {"/a": {"get": {"parameters": [{"$ref": "http://x/y"}]}}},
            },
            "only local",
        ),
        (
            {
                "openapi": "3.0.0",
                "paths": {"/a": {"get": {"operationId": "x"}, "post": {"operationId": "x"}}},
            },
            "duplicate",
        ),
    ],
)
def test_bad_specs_are_refused(document: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(document)


def test_recursive_schema_terminates() -> None:
    document = {
        "openapi": "3.1.0",
        "paths": {"/n": {"post": {"operationId": "node", "requestBody": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}},
        "components": {"schemas": {"Node": {"type": "object", "properties": {
            "child": {"$ref": "#/components/schemas/Node"}}}}},
    }  # fmt: skip
    (operation,) = parse_spec(document)
    assert operation.body is not None and "child" in operation.body.schema["properties"]
