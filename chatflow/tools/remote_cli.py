"""`chatflow tools add-openapi | add-mcp | refresh | remove | remote`: the operator's
OpenAPI and MCP providers (kept by `chatflow.tools.remote`).

    chatflow tools add-openapi pets ./petstore.yaml --header 'X-Api-Key: ${PETS_KEY}'
    chatflow tools add-mcp search https://mcp.example.com/mcp --header 'Authorization: Bearer ${T}'
    chatflow tools add-mcp fs -- npx -y @modelcontextprotocol/server-filesystem /srv/docs

Adding reads the spec (or connects to the MCP server and lists its tools) at once, so a
mistake shows now rather than mid-run. Nothing printed here contains a header or env value.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from chatflow.errors import ChatflowError
from chatflow.net.ssrf import SSRFPolicy
from chatflow.settings import Settings
from chatflow.tools import remote, secrets
from chatflow.tools.mcp.connect import McpServer
from chatflow.tools.mcp.provider import McpProvider
from chatflow.tools.openapi import OpenApiProvider, read_spec

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the SQLite file and uploads live.")
]
Headers = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        "-H",
        help="'Name: value' sent with every call; '${VAR}' in the value is read from the "
        "environment at call time (keeps the secret out of the data dir).",
    ),
]
Aliases = Annotated[
    list[str] | None,
    typer.Option(
        "--alias",
        help="Another provider id DSL tool nodes use for it (e.g. the Dify provider id).",
    ),
]


def _settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir is not None else Settings()


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _pairs(values: list[str] | None, parse: Any, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or ():
        try:
            key, item = parse(value)
        except ValueError as exc:
            raise _fail(f"{what}: {exc}") from None
        pairs[key] = item
    return pairs


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"an env entry is NAME=value, got {text!r}")
    return key.strip(), value


def _run(work: Any) -> Any:
    try:
        return asyncio.run(work)
    except ChatflowError as exc:
        raise _fail(exc.message) from None


def add_openapi(
    name: Annotated[str, typer.Argument(help="Provider name tool nodes refer to.")],
    spec: Annotated[str, typer.Argument(help="OpenAPI 3 / Swagger 2 file (JSON/YAML) or URL.")],
    header: Headers = None,
    alias: Aliases = None,
    data_dir: DataDir = None,
) -> None:
    """Add (or replace) an OpenAPI tool provider: one tool per operation of the spec."""
    settings = _settings(data_dir)
    headers = _pairs(header, secrets.parse_header, "--header")
    remote.check_name(name)
    document, source_url = _run(read_spec(spec, ssrf_allow=settings.ssrf_allow))
    provider = OpenApiProvider(name, document, source_url=source_url, headers=headers)
    source = spec if source_url else str(Path(spec).resolve())
    entry = remote.openapi_entry(source, document, source_url, headers, alias or ())
    remote.put(settings, "openapi", name, entry)
    tools = provider.tool_names
    typer.echo(f"added OpenAPI provider {name}: {len(tools)} tools: {', '.join(tools)}")
    _warn_missing(provider.missing_configuration())


def add_mcp(
    name: Annotated[str, typer.Argument(help="Provider name tool nodes refer to.")],
    target: Annotated[
        list[str],
        typer.Argument(help="The server URL, or `-- COMMAND ARGS...` for a stdio server."),
    ],
    transport: Annotated[
        str | None,
        typer.Option(
            help="streamable_http or sse for a URL (default: sse when the path "
            "ends in /sse, else streamable_http)."
        ),
    ] = None,
    header: Headers = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="NAME=value for a stdio server's environment ('${VAR}' ok)."),
    ] = None,
    alias: Aliases = None,
    skip_list: Annotated[
        bool, typer.Option("--skip-list", help="Store without connecting; list on first use.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Add (or replace) an MCP server as a tool provider and cache its tool list."""
    settings = _settings(data_dir)
    remote.check_name(name)
    headers = _pairs(header, secrets.parse_header, "--header")
    environment = _pairs(env, _env_pair, "--env")
    is_url = len(target) == 1 and target[0].startswith(("http://", "https://"))
    if transport is not None and (not is_url or transport not in ("streamable_http", "sse")):
        raise _fail("--transport is streamable_http or sse, for a URL")
    if is_url:
        server = McpServer.http(target[0], headers)
        if transport is not None:
            server = replace(server, transport="sse" if transport == "sse" else "streamable_http")
    else:
        server = McpServer(transport="stdio", command=tuple(target), env=environment)
    server = replace(
        server,
        timeout=settings.mcp_timeout_seconds,
        sse_read_timeout=settings.mcp_call_timeout_seconds,
    )
    tools: list[dict[str, Any]] = []
    if not skip_list:
        tools = _run(_list(name, server, settings))
    remote.put(settings, "mcp", name, remote.mcp_entry(server, tools, alias or ()))
    names = ", ".join(str(tool["name"]) for tool in tools) or "(listed on first use)"
    typer.echo(f"added MCP provider {name} ({server.describe()}): {len(tools)} tools: {names}")


async def _list(name: str, server: McpServer, settings: Settings) -> list[dict[str, Any]]:
    provider = McpProvider(name, server, policy=SSRFPolicy.parse(settings.ssrf_allow))
    try:
        return await provider.refresh()
    finally:
        await provider.aclose()


def refresh(
    name: Annotated[str, typer.Argument(help="An MCP provider added with add-mcp.")],
    data_dir: DataDir = None,
) -> None:
    """List an MCP server's tools again and update the cached list."""
    settings = _settings(data_dir)
    entry = remote.load(settings)["mcp"].get(name)
    if entry is None:
        raise _fail(f"no MCP provider named {name!r}")
    tools = _run(_list(name, remote.mcp_server(entry, settings), settings))
    entry["tools"] = tools
    remote.put(settings, "mcp", name, entry)
    typer.echo(f"{name}: {len(tools)} tools: {', '.join(str(t['name']) for t in tools)}")


def remove(
    name: Annotated[str, typer.Argument(help="An OpenAPI or MCP provider name.")],
    data_dir: DataDir = None,
) -> None:
    """Remove an OpenAPI or MCP provider."""
    if not remote.remove(_settings(data_dir), name):
        raise _fail(f"no OpenAPI or MCP provider named {name!r}")
    typer.echo(f"removed {name}")


def show(data_dir: DataDir = None) -> None:
    """List the OpenAPI and MCP providers (credentials shown as *** or ${VAR})."""
    rows = remote.public_view(_settings(data_dir))
    if not rows:
        typer.echo("no OpenAPI or MCP providers; add one with add-openapi or add-mcp")
    for row in rows:
        headers = ", ".join(f"{k}: {v}" for k, v in row["headers"].items())
        line = f"{row['name']}  {row['kind']}  {row['source']}"
        if headers:
            line += f"  headers: {headers}"
        if row.get("tools"):
            line += f"  tools: {', '.join(row['tools'])}"
        typer.echo(line)


def _warn_missing(missing: str | None) -> None:
    if missing:
        typer.echo(f"note: before it can run, set {missing}", err=True)


def _reported(command: Callable[..., None]) -> Callable[..., None]:
    """A command whose project errors end it with `error: ...` and exit status 1."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except ChatflowError as exc:
            raise _fail(exc.message) from None

    return run


def register(group: typer.Typer) -> None:
    """Add these commands to the `chatflow tools` group."""
    group.command("add-openapi")(_reported(add_openapi))
    group.command("add-mcp")(_reported(add_mcp))
    group.command("refresh")(_reported(refresh))
    group.command("remove")(_reported(remove))
    group.command("remote")(_reported(show))
