"""The `chatflow` command: serve apps, manage them, chat in the terminal.

    chatflow serve [FILE.yml ...] [--host] [--port] [--data-dir]
    chatflow app import FILE.yml [--api-key KEY] [--dataset REF=DATASET ...]
    chatflow app list
    chatflow app key APP
    chatflow chat FILE.yml|APP
    chatflow tools list | map REF TOOL
    chatflow tools add-openapi NAME SPEC [--header 'K: V']   (and add-mcp, refresh, remove, remote)
    chatflow dataset-key create [--api-key KEY]
    chatflow kb create|add|list|search ...      (see `cli_knowledge.py`)

Every command goes through `chatflow.services`; nothing here holds logic of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from chatflow.cli_knowledge import kb_cli, key_cli
from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import TextChunk
from chatflow.errors import ChatflowError
from chatflow.services import Services
from chatflow.services.apps import ImportResult, LoadedApp
from chatflow.services.chat import ChatRequest
from chatflow.services.knowledge_base import dataset_refs, map_refs
from chatflow.services.turn import TurnEnded
from chatflow.settings import Settings
from chatflow.tools.commands import tools_cli
from chatflow.tools.remote_cli import register as register_remote_tool_commands

T = TypeVar("T")

EXAMPLE_APP = Path(__file__).resolve().parent / "examples" / "assistant.yml"
CLI_USER = "cli-user"

cli = typer.Typer(help="Run Dify chatflow apps behind Dify's Service API.", no_args_is_help=True)
app_cli = typer.Typer(help="Import, list and key apps.", no_args_is_help=True)
cli.add_typer(app_cli, name="app")
register_remote_tool_commands(tools_cli)
cli.add_typer(tools_cli, name="tools")
cli.add_typer(key_cli, name="dataset-key")
cli.add_typer(kb_cli, name="kb")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the SQLite file and uploads live.")
]


def _settings(data_dir: Path | None, **overrides: object) -> Settings:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)  # type: ignore[arg-type]


def _with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    async def run() -> T:
        services = await Services.open(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except ChatflowError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _key_text(result: ImportResult) -> str:
    if result.api_key:
        return result.api_key
    prefix = result.key_prefixes[0] if result.key_prefixes else "app-"
    return f"{prefix}… (stored hashed; `chatflow app key {result.name}` mints a new one)"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}") from None


@cli.command()
def serve(
    files: Annotated[list[Path] | None, typer.Argument(help="DSL files to import first.")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 5001).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Import the DSL files (or the bundled example app) and serve the Service API
    (`/v1`) and the chat page (`/`)."""
    import uvicorn

    from chatflow.api import create_app

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = _settings(data_dir, **overrides)
    texts = [_read(path) for path in files or [EXAMPLE_APP]]

    async def import_all(services: Services) -> list[tuple[ImportResult, list[str]]]:
        imported = [await _import_mapped(services, text, None, []) for text in texts]
        return [(result, unmapped) for result, unmapped, _ in imported]

    origin = f"http://{settings.host}:{settings.port}"
    base_url = f"{origin}/v1"
    paths = files or [EXAMPLE_APP]
    for path, (result, unmapped) in zip(paths, _with_services(settings, import_all), strict=True):
        typer.echo(
            f"{result.name}  id={result.app_id}  key={_key_text(result)}  base_url={base_url}"
        )
        if result.api_key:  # the web page reads the key from the fragment, never sent
            typer.echo(f"  chat: {origin}/#key={result.api_key}")
        _echo_missing_tools(result)
        _report_unmapped(path, unmapped)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def _split_pairs(pairs: list[str]) -> list[str]:
    for pair in pairs:
        if "=" not in pair.strip("="):
            raise typer.BadParameter(f"expected REF=DATASET, got {pair!r}", param_hint="--dataset")
    return pairs


def _mapping(pairs: list[str], refs: list[str]) -> dict[str, str]:
    """REF=DATASET pairs as {REF: DATASET}. Exported refs often end in `=` (base64), so
    the split is the one whose REF is a reference of the file; else the last `=`."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        splits = [(pair[:i], pair[i + 1 :]) for i, c in enumerate(pair) if c == "=" and i]
        splits = [(ref, dataset) for ref, dataset in splits if dataset]
        known = [(ref, dataset) for ref, dataset in splits if ref in refs]
        ref, dataset = (known or splits)[-1]
        mapping[ref] = dataset
    return mapping


async def _import_mapped(
    services: Services, text: str, api_key: str | None, pairs: list[str]
) -> tuple[ImportResult, list[str], list[str]]:
    """Import, store the dataset mapping; (result, unmapped refs, refs not in the file)."""
    refs = dataset_refs(to_graph(load_app(text)))
    mapping = _mapping(pairs, refs)
    for target in mapping.values():
        await services.knowledge.find_dataset(target)  # a wrong DATASET fails before import
    result = await services.apps.import_dsl(text, api_key=api_key)
    unmapped = await map_refs(services.db, result.app_id, refs, mapping)
    return result, unmapped, [ref for ref in mapping if ref not in refs]


def _report_unmapped(file: Path, unmapped: list[str]) -> None:
    for ref in unmapped:
        typer.echo(f"  unmapped dataset {ref!r}: its knowledge-retrieval fails until mapped:")
        typer.echo(f"    chatflow app import {file} --dataset '{ref}'=DATASET")
    if unmapped:
        typer.echo(
            "  (DATASET: a name or id from `chatflow kb list`; `chatflow kb create` makes one)"
        )


@app_cli.command("import")
def import_app(
    file: Annotated[Path, typer.Argument(help="The DSL file.")],
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Register this key instead of minting one.")
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            help="REF=DATASET: the file's dataset id REF (as written) is our dataset "
            "DATASET (id or name). Repeatable.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Import a DSL file; the same app name updates that app in place, keeping its keys.
    Every dataset reference left unmapped is listed with the command that maps it."""
    text = _read(file)
    pairs = _split_pairs(dataset or [])
    result, unmapped, unknown = _with_services(
        _settings(data_dir), lambda s: _import_mapped(s, text, api_key, pairs)
    )
    action = "created" if result.created else "updated"
    typer.echo(f"{action} {result.name}  id={result.app_id}  key={_key_text(result)}")
    _echo_missing_tools(result)
    for ref in unknown:
        typer.echo(f"  note: {ref!r} is not a dataset reference of {file.name} (mapped anyway)")
    _report_unmapped(file, unmapped)


def _echo_missing_tools(result: ImportResult) -> None:
    """Like Dify's missing-plugin list: the app imports, these nodes fail until mapped."""
    for line in result.missing_tools:
        typer.echo(f"  missing {line}")


@app_cli.command("list")
def list_apps(data_dir: DataDir = None) -> None:
    """List the imported apps with their key prefixes."""
    apps = _with_services(_settings(data_dir), lambda s: s.apps.list_apps())
    if not apps:
        typer.echo("no apps imported yet")
    for app in apps:
        keys = ", ".join(f"{p}…" for p in app.key_prefixes) or "no keys"
        typer.echo(f"{app.name}  id={app.id}  mode={app.mode}  keys={keys}")


@app_cli.command("key")
def create_key(
    app: Annotated[str, typer.Argument(help="App name or id.")], data_dir: DataDir = None
) -> None:
    """Mint a new Service API key for an app and print it (it is shown only once)."""
    typer.echo(_with_services(_settings(data_dir), lambda s: s.apps.create_key(app)))


async def _turn(services: Services, app: LoadedApp, query: str, conversation: str | None) -> str:
    handle = await services.chat.start(
        app,
        ChatRequest(query=query, user=CLI_USER, conversation_id=conversation),
    )
    async for _, item in services.streams.subscribe(handle.info.task_id):
        if isinstance(item, TextChunk):
            typer.echo(item.text, nl=False)
        elif isinstance(item, TurnEnded) and item.error is not None:
            typer.echo(f"\n[{item.error.message}]", err=True)
    typer.echo()
    return handle.info.conversation_id


@cli.command()
def chat(
    target: Annotated[str, typer.Argument(help="A DSL file (imported first) or an app name/id.")],
    data_dir: DataDir = None,
) -> None:
    """Chat with an app in the terminal, streaming each answer. Ctrl-D or `exit` quits."""

    path = Path(target)
    dsl_text = _read(path) if path.suffix in (".yml", ".yaml") or path.is_file() else None

    async def session(services: Services) -> None:
        ref = target
        if dsl_text is not None:
            ref = (await services.apps.import_dsl(dsl_text)).app_id
        app = await services.apps.find(ref)
        opening = app.dsl.features.opening_statement
        if opening:
            typer.echo(opening)
        conversation: str | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                query = await loop.run_in_executor(None, input, "you> ")
            except EOFError:
                typer.echo()
                return
            if query.strip() in ("exit", "quit"):
                return
            if query.strip():
                conversation = await _turn(services, app, query, conversation)

    _with_services(_settings(data_dir), session)


@cli.command("settings")
def show_settings() -> None:
    """Print every setting as a Markdown table (the README's Configuration section)."""
    from chatflow.settings import settings_table

    typer.echo(settings_table())


def main() -> None:
    cli()
