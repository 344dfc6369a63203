"""`ConsoleTools` over the services of a temporary data directory: OpenAPI providers
added from pasted text and from a loopback URL, removed, their header values kept out of
the listing, the checks on names, sources and headers, and missing tool references of a
DSL mapped to tools that run here."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from chatflow.errors import InvalidRequest, NotFound
from chatflow.providers.fake import FakeRegistry
from chatflow.services import Services
from chatflow.services.console_tools import MAX_HEADERS, ConsoleTools, checked_headers
from chatflow.settings import Settings
from chatflow.store import Database
from chatflow.tools import mappings, remote
from tests.tools import petstore
from tests.tools.loopback import serve

SPEC = json.dumps(petstore.openapi3("http://127.0.0.1:9/v1"))
NEEDS_TOOLS = """
app: {name: needs-tools, mode: advanced-chat}
kind: app
version: 0.3.0
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: clock
      data:
        type: tool
        title: Clock
        provider_type: builtin
        provider_id: acme/clock/clock
        provider_name: clock
        tool_name: now
        tool_parameters: {}
    - id: again
      data:
        type: tool
        title: Clock again
        provider_type: builtin
        provider_id: acme/clock/clock
        provider_name: clock
        tool_name: now
        tool_parameters: {}
    - id: answer
      data: {type: answer, title: Answer, answer: '{{#clock.text#}}'}
    edges:
    - {id: e1, source: start, target: clock}
    - {id: e2, source: clock, target: again}
    - {id: e3, source: again, target: answer}
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, model_backend="fake", ssrf_allow="127.0.0.1")


@pytest.fixture
def tools(services: Services) -> ConsoleTools:
    return services.console.tools


async def _listed(tools: ConsoleTools) -> dict[str, dict[str, object]]:
    return {row["id"]: row for row in await tools.providers()}


async def test_an_openapi_provider_from_text_is_listed_without_its_key_then_removed(
    tools: ConsoleTools, settings: Settings
) -> None:
    headers = {"X-Api-Key": petstore.API_KEY, "Authorization": "Bearer ${PETS_TOKEN}"}
    added = await tools.add_openapi("pets", url="", schema=SPEC, headers=headers)
    assert "listPets" in added["tools"]
    row = (await _listed(tools))["pets"]
    assert row["kind"] == "openapi" and row["source"] == "(pasted in the console)"
    # A literal value is hidden; a reference to a variable is shown as it is.
    assert row["headers"] == {"X-Api-Key": "***", "Authorization": "Bearer ${PETS_TOKEN}"}
    assert petstore.API_KEY not in json.dumps(await tools.providers())
    stored = remote.load(settings)["openapi"]["pets"]
    assert stored["headers"]["X-Api-Key"] == petstore.API_KEY  # kept for calls, in the file

    # Added again under the same name: replaced, not doubled.
    await tools.add_openapi("pets", url="", schema=SPEC, headers={})
    assert list(await _listed(tools)).count("pets") == 1
    await tools.remove("pets")
    assert "pets" not in await _listed(tools)
    assert remote.load(settings)["openapi"] == {}
    with pytest.raises(NotFound):
        await tools.remove("pets")


async def test_an_openapi_provider_from_a_url(tools: ConsoleTools) -> None:
    with serve(petstore.app()) as base:
        added = await tools.add_openapi("pets2", url=f"{base}/openapi.json", schema="", headers={})
    assert "listPets" in added["tools"]
    assert (await _listed(tools))["pets2"]["source"] == f"{base}/openapi.json"


@pytest.mark.parametrize(
    ("name", "url", "schema", "message"),
    [
        ("time", "", SPEC, "built-in"),  # a built-in provider's name
        ("bad name!", "", SPEC, "provider name"),
        ("p", "", "", "either"),
        ("p", "http://127.0.0.1:9/spec.json", SPEC, "either"),
        ("p", "file:///etc/passwd", "", "http"),
        ("p", "", json.dumps({"openapi": "3.0.0", "info": {}, "paths": {}}), "no operations"),
    ],
)
async def test_bad_providers_are_refused(
    tools: ConsoleTools, name: str, url: str, schema: str, message: str
) -> None:
    with pytest.raises(Exception, match=message) as caught:
        await tools.add_openapi(name, url=url, schema=schema, headers={})
    assert getattr(caught.value, "status", 400) == 400
    assert name not in await _listed(tools) or name == "time"


async def test_an_mcp_url_must_be_http(tools: ConsoleTools) -> None:
    with pytest.raises(InvalidRequest, match="http"):
        await tools.add_mcp("m", url="ftp://127.0.0.1/mcp", headers={})


def test_header_checks() -> None:
    assert checked_headers({" X-Key ": "v", "Authorization": "Bearer ${T}"}) == {
        "X-Key": "v",
        "Authorization": "Bearer ${T}",
    }
    for bad in (
        {"X-Key:Y": "v"},
        {"Bad Name": "v"},
        {"": "v"},
        {"X-Key": "a\r\nInjected: 1"},
        {f"X-{i}": "v" for i in range(MAX_HEADERS + 1)},
    ):
        with pytest.raises(InvalidRequest):
            checked_headers(bad)
    assert len(checked_headers({f"X-{i}": "v" for i in range(MAX_HEADERS)})) == MAX_HEADERS


async def test_missing_references_are_listed_once_and_mapped(
    tools: ConsoleTools, settings: Settings
) -> None:
    [missing] = await tools.missing(NEEDS_TOOLS)  # two nodes, one reference
    assert (missing["provider"], missing["tool"], missing["node"]) == (
        "acme/clock/clock",
        "now",
        "Clock",
    )
    assert missing["problem"]
    targets: tuple[tuple[str, str | None], ...] = (
        ("nowhere:now", "No tool provider"),
        ("time:no_such_tool", "has no tool"),
        ("", None),
    )
    for target, message in targets:
        with pytest.raises(InvalidRequest, match=message):
            await tools.map("acme/clock/clock:now", target)
    assert mappings.load(settings) == {}
    await tools.map("acme/clock/clock:now", "time:current_time")
    assert mappings.load(settings) == {"acme/clock/clock:now": "time:current_time"}
    assert await tools.missing(NEEDS_TOOLS) == []


async def test_a_second_worker_sees_a_provider_added_in_the_first(
    settings: Settings, tools: ConsoleTools
) -> None:
    other = await Services.open(
        settings, database=Database("sqlite+aiosqlite://"), models=FakeRegistry()
    )
    try:
        await tools.add_openapi("pets", url="", schema=SPEC, headers={})
        assert "pets" in await _listed(other.console.tools)
        await tools.remove("pets")
        await asyncio.sleep(1.1)  # a worker looks at the files at most once a second
        assert "pets" not in await _listed(other.console.tools)
    finally:
        await other.close()
