"""`chatflow tools ...`: see what runs here and map DSL tool references to it.

    chatflow tools list                  every runnable tool, its ids, configured or not
    chatflow tools map REF TOOL          persist a mapping (REF, TOOL: PROVIDER[:TOOL])

Mappings are kept in `data_dir/tool_mappings.json`; the `tools_map` setting can hold more
(a JSON object or a JSON/YAML file). Nothing here needs the database.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from chatflow.settings import Settings
from chatflow.tools import mappings
from chatflow.tools.base import ToolError
from chatflow.tools.catalog import build_registry
from chatflow.tools.registry import SEP, ToolRef, ToolRegistry

tools_cli = typer.Typer(help="List the tools that run here and map DSL tool ids to them.",
                        no_args_is_help=True)  # fmt: skip

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the SQLite file and uploads live.")
]


def _settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir is not None else Settings()


async def listing(registry: ToolRegistry) -> list[str]:
    """One line per tool: `provider:tool  [configured | needs SETTING]  ids: ...`."""
    lines: list[str] = []
    for provider in sorted(registry.providers, key=lambda p: p.id):
        needs = provider.missing_configuration()
        state = f"needs {needs}" if needs else "configured"
        ids = ", ".join(provider.aliases)
        for tool in await provider.tools():
            line = f"{provider.id}{SEP}{tool.descriptor.name}  [{state}]"
            lines.append(f"{line}  also: {ids}" if ids else line)
    for source, target in sorted(registry.mappings.items()):
        lines.append(f"mapped: {source} -> {target}")
    return lines


@tools_cli.command("list")
def list_tools(data_dir: DataDir = None) -> None:
    """Every runnable tool, with the provider ids a DSL may use and whether it is configured."""
    try:
        registry = build_registry(_settings(data_dir))
        for line in asyncio.run(listing(registry)):
            typer.echo(line)
    except ToolError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None


@tools_cli.command("map")
def map_tool(
    ref: Annotated[str, typer.Argument(help="The DSL's provider id, or provider_id:tool_name.")],
    tool: Annotated[str, typer.Argument(help="A tool here: PROVIDER or PROVIDER:TOOL.")],
    data_dir: DataDir = None,
) -> None:
    """Send a DSL tool reference to a tool that runs here (persisted)."""
    settings = _settings(data_dir)
    try:
        registry = build_registry(settings)
        target = ToolRef.parse(tool)
        if registry.provider(target.provider) is None:
            raise ToolError(f"no tool provider '{target.provider}' here; see `chatflow tools list`")
        if target.tool is not None:
            asyncio.run(registry.find(target.provider, target.tool))
        mappings.save(settings, ref, tool)
    except ToolError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"mapped {ToolRef.parse(ref)} -> {target}  ({mappings.persisted_path(settings)})")
