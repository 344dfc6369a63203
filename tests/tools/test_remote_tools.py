"""Operator-added OpenAPI and MCP providers end to end: `chatflow tools add-openapi` /
`add-mcp` store them, the server's registry loads them, and Dify tool nodes
(`provider_type: api` / `mcp`) run them against real loopback servers. Credentials never
show in a listing or a log line."""

from __future__ import annotations

import asyncio
import logging
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import tool
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.providers.fake import FakeRegistry
from chatflow.settings import Settings
from chatflow.tools import remote
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService
from tests.tools import mcp_demo, petstore
from tests.tools.loopback import serve

runner = CliRunner()
LITERAL_SECRET = "literal-secret-value-9f8e"
DEMO = str(Path(mcp_demo.__file__).resolve())


@pytest.fixture(scope="module")
def pets() -> Iterator[str]:
    with serve(petstore.app()) as url:
        yield url


@pytest.fixture(scope="module")
def mcp_http() -> Iterator[str]:
    with serve(mcp_demo.app("streamable_http")) as base:
        yield f"{base}/mcp"


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATFLOW_SSRF_ALLOW", "127.0.0.1")
    monkeypatch.setenv("PETS_KEY", petstore.API_KEY)


def cli(*args: str) -> Any:
    from chatflow.cli import cli as app

    return runner.invoke(app, list(args))


async def run_node(settings: Settings, data: dict[str, Any], pool: VariablePool) -> NodeResult:
    registry = build_registry(settings)
    runtime = ToolRuntimeService(registry, settings=settings)
    services = EngineServices(models=FakeRegistry(), limits=EngineLimits(), tools=runtime)
    try:
        events = [
            e
            async for e in tool.run(
                NodeContext("t1", pool, services), tool.Config.model_validate(data)
            )
        ]
    finally:
        await remote.close(registry.providers)
    result = events[-1]
    assert isinstance(result, NodeResult)
    return result


def test_add_openapi_stores_it_privately_and_lists_without_secrets(
    pets: str, tmp_path: Path
) -> None:
    added = cli(
        "tools", "add-openapi", "pets", f"{pets}/openapi.json", "--data-dir", str(tmp_path),
        "--header", "X-Api-Key: ${PETS_KEY}", "--header", f"X-Other: {LITERAL_SECRET}",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "6 tools" in added.output and "listPets" in added.output
    path = tmp_path / remote.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = cli("tools", "remote", "--data-dir", str(tmp_path))
    assert "X-Api-Key: ${PETS_KEY}" in listed.output and "X-Other: ***" in listed.output
    assert LITERAL_SECRET not in listed.output and petstore.API_KEY not in listed.output


async def test_api_tool_node_runs_the_stored_provider(
    pets: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    added = await asyncio.to_thread(
        cli,
        "tools", "add-openapi", "pets", f"{pets}/openapi.json", "--data-dir", str(tmp_path),
        "--header", "X-Api-Key: ${PETS_KEY}", "--header", f"X-Other: {LITERAL_SECRET}",
        "--alias", "6f1c2a4e-0000-4000-8000-000000000001",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    settings = Settings(data_dir=tmp_path)
    pool = VariablePool()
    pool.set("start", "pet", "42")
    node = {  # a Dify `provider_type: api` node names its provider by workspace id
        "type": "tool", "title": "Get pet", "provider_type": "api",
        "provider_id": "6f1c2a4e-0000-4000-8000-000000000001", "provider_name": "pets",
        "tool_name": "pets_pet_id_get",
        "tool_parameters": {"pet_id": {"type": "mixed", "value": "{{#start.pet#}}"}},
    }  # fmt: skip
    caplog.set_level(logging.DEBUG)
    result = await run_node(settings, node, pool)
    assert result.outputs["json"] == [{"id": 42, "trace": None, "session": None}]
    assert '"id":42' in result.outputs["text"].replace(" ", "")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert LITERAL_SECRET not in logged and petstore.API_KEY not in logged


def test_add_mcp_stdio_refresh_and_remove(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    added = cli("tools", "add-mcp", "demo", *data, "--", sys.executable, DEMO)
    assert added.exit_code == 0, added.output
    assert "stdio:" in added.output and "echo" in added.output and DEMO not in added.output
    stored = remote.load(Settings(data_dir=tmp_path))["mcp"]["demo"]
    assert stored["command"] == [sys.executable, DEMO]
    assert {t["name"] for t in stored["tools"]} >= {"echo", "add"}
    refreshed = cli("tools", "refresh", "demo", *data)
    assert refreshed.exit_code == 0 and "echo" in refreshed.output
    assert cli("tools", "remove", "demo", *data).exit_code == 0
    assert remote.load(Settings(data_dir=tmp_path))["mcp"] == {}
    missing = cli("tools", "remove", "demo", *data)
    assert missing.exit_code == 1 and "no OpenAPI or MCP provider" in missing.output


async def test_mcp_tool_node_over_streamable_http(
    mcp_http: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    added = await asyncio.to_thread(
        cli,
        "tools", "add-mcp", "demo", mcp_http, "--data-dir", str(tmp_path),
        "--header", f"X-Token: {LITERAL_SECRET}", "--alias", "demo-server",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "streamable_http" in added.output
    node = {
        "type": "tool", "title": "Add", "provider_type": "mcp", "provider_id": "demo-server",
        "provider_name": "demo", "tool_name": "add",
        "tool_parameters": {
            "a": {"type": "constant", "value": 2}, "b": {"type": "mixed", "value": "40"},
        },
    }  # fmt: skip
    caplog.set_level(logging.DEBUG)
    result = await run_node(Settings(data_dir=tmp_path), node, VariablePool())
    assert result.outputs["text"] == "42"
    assert result.outputs["result"] == 42  # structuredContent -> a variable output
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert LITERAL_SECRET not in logged


def test_add_mcp_refuses_loopback_without_the_allow_list(
    mcp_http: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATFLOW_SSRF_ALLOW", "")
    refused = cli("tools", "add-mcp", "demo", mcp_http, "--data-dir", str(tmp_path))
    assert refused.exit_code == 1 and "not allowed" in refused.output
    assert not (tmp_path / remote.FILE_NAME).exists()


def test_bad_input_is_refused(tmp_path: Path, pets: str) -> None:
    data = ["--data-dir", str(tmp_path)]
    bad_name = cli("tools", "add-openapi", "no spaces", f"{pets}/openapi.json", *data)
    assert bad_name.exit_code == 1 and "provider name" in bad_name.output
    bad_header = cli("tools", "add-openapi", "p", f"{pets}/openapi.json", "-H", "oops", *data)
    assert bad_header.exit_code == 1 and "Name: value" in bad_header.output
    not_spec = cli("tools", "add-openapi", "p", f"{pets}/v1/status", *data)
    assert not_spec.exit_code == 1 and "JSON or YAML object" in not_spec.output


def test_a_broken_entry_is_skipped_not_fatal(
    pets: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path)
    good = remote.openapi_entry("x", petstore.openapi3(), pets, {})
    bad = remote.openapi_entry("y", {"info": {}}, "", {})
    remote.save(settings, {
        "openapi": {"good": good, "bad": bad},
        "mcp": {"odd": {"transport": "carrier-pigeon"}},
    })  # fmt: skip
    registry = build_registry(settings)
    assert registry.provider("good") is not None
    assert registry.provider("bad") is None and registry.provider("odd") is None
    assert "'bad' skipped" in caplog.text and "'odd' skipped" in caplog.text
