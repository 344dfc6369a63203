"""`chatflow dataset-key` and `chatflow kb`: knowledge bases from the shell.

    chatflow dataset-key create [--api-key KEY]      a Knowledge API key (`dataset-...`)
    chatflow kb create NAME [--description TEXT]
    chatflow kb add NAME FILE... [--metadata FIELD=VALUE] [--max-tokens N] [--separator S]
    chatflow kb list
    chatflow kb search NAME QUERY [--top-k N] [--method hybrid_search]

Everything goes through `KnowledgeService`, as the Knowledge API does.
"""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Annotated, Any

import typer

from chatflow.knowledge.extract import check_supported
from chatflow.services import Services
from chatflow.services.knowledge import NewDocument

key_cli = typer.Typer(help="Knowledge API keys.", no_args_is_help=True)
kb_cli = typer.Typer(help="Create, fill, list and search knowledge bases.", no_args_is_help=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the SQLite file and uploads live.")
]
_POLL_SECONDS = 0.2


def _run(data_dir: Path | None, work: Any) -> Any:
    from chatflow.cli import _settings, _with_services

    return _with_services(_settings(data_dir), work)


@key_cli.command("create")
def create_key(
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="Store exactly this key (for automation)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Print a new Knowledge API key (shown only now; stored hashed)."""
    if api_key is not None and not api_key.startswith("dataset-"):
        raise typer.BadParameter("dataset keys start with 'dataset-'", param_hint="--api-key")
    typer.echo(_run(data_dir, lambda s: s.knowledge.create_key(api_key)))


@kb_cli.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The knowledge base's name.")],
    description: Annotated[str, typer.Option(help="What it holds (used to route).")] = "",
    economy: Annotated[
        bool, typer.Option("--economy", help="Keyword index only, no embeddings.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an empty knowledge base."""
    technique = "economy" if economy else "high_quality"
    view = _run(
        data_dir,
        lambda s: s.knowledge.create_dataset(
            name, description=description, indexing_technique=technique
        ),
    )
    typer.echo(f"created {view.row.name}  id={view.row.id}")


@kb_cli.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Knowledge base name or id.")],
    files: Annotated[list[Path], typer.Argument(help="txt, md, html, pdf, docx, xlsx, csv...")],
    max_tokens: Annotated[int | None, typer.Option(help="Chunk size (50-4000 tokens).")] = None,
    separator: Annotated[str, typer.Option(help="Split on this first.")] = "\\n",
    overlap: Annotated[int, typer.Option(help="Tokens repeated between chunks.")] = 50,
    metadata: Annotated[
        list[str] | None,
        typer.Option(
            "--metadata",
            help="FIELD=VALUE set on every added file (a string field, created if new); "
            "what apps' metadata filters match. Repeatable.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Add files and wait until they are indexed, with a progress bar."""
    values: dict[str, str] = {}
    for pair in metadata or []:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise typer.BadParameter(f"expected FIELD=VALUE, got {pair!r}", param_hint="--metadata")
        values[field.strip()] = value
    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}")
        try:
            check_supported(path.name)
        except ValueError as exc:
            raise typer.BadParameter(f"{path}: {exc}") from None
    rule: dict[str, Any] | None = None
    if max_tokens is not None:
        rule = {
            "mode": "custom",
            "rules": {
                "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
                "segmentation": {
                    "separator": separator,
                    "max_tokens": max_tokens,
                    "chunk_overlap": overlap,
                },
            },
        }

    async def work(services: Services) -> list[tuple[str, str, str | None]]:
        knowledge = services.knowledge
        dataset = await knowledge.find_dataset(name)
        await knowledge.start()
        created: list[tuple[str, str]] = []
        for path in files:
            new = NewDocument(
                name=path.name,
                content=path.read_bytes(),
                extension=check_supported(path.name),
                mime_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                process_rule=rule or {"mode": "automatic"},
            )
            document, batch = await knowledge.create_document(
                dataset.id, new, indexing_technique="high_quality"
            )
            created.append((document.id, batch))
        if values:
            _, fields = await knowledge.metadata.fields(dataset.id)
            known = {field.name for field, _ in fields}
            for field_name in values:
                if field_name not in known:
                    await knowledge.metadata.create_field(dataset.id, "string", field_name)
            items = [{"name": n, "value": v} for n, v in values.items()]
            await knowledge.metadata.set_document_values(
                dataset.id, [{"document_id": d, "metadata_list": items} for d, _ in created]
            )
        results: dict[str, tuple[str, str, str | None]] = {}
        with typer.progressbar(length=len(created), label="indexing") as bar:
            while len(results) < len(created):
                for document_id, batch in created:
                    if document_id in results:
                        continue
                    (status,) = await knowledge.indexing_status(dataset.id, batch)
                    state = status.document.indexing_status
                    if state in ("completed", "error"):
                        results[document_id] = (status.document.name, state, status.document.error)
                        bar.update(1)
                await asyncio.sleep(_POLL_SECONDS)
        return [results[document_id] for document_id, _ in created]

    failed = False
    for file_name, state, error in _run(data_dir, work):
        if state == "completed":
            typer.echo(f"  {file_name}: indexed")
        else:
            failed = True
            typer.echo(f"  {file_name}: failed: {error}", err=True)
    if failed:
        raise typer.Exit(1)


@kb_cli.command("list")
def list_bases(data_dir: DataDir = None) -> None:
    """Knowledge bases with their document and word counts."""

    async def work(services: Services) -> list[Any]:
        page = await services.knowledge.list_datasets(page=1, limit=100, keyword=None, tag_ids=())
        return list(page.items)

    views = _run(data_dir, work)
    if not views:
        typer.echo("no knowledge bases yet (chatflow kb create NAME)")
    for view in views:
        row = view.row
        typer.echo(
            f"{row.name}  id={row.id}  documents={view.document_count}  "
            f"words={view.word_count}  indexing={row.indexing_technique or '-'}"
        )


@kb_cli.command("search")
def search(
    name: Annotated[str, typer.Argument(help="Knowledge base name or id.")],
    query: Annotated[str, typer.Argument(help="What to look for.")],
    top_k: Annotated[int, typer.Option(help="How many chunks.")] = 4,
    method: Annotated[
        str | None,
        typer.Option(help="semantic_search, full_text_search, hybrid_search or keyword_search."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Show the best chunks for a query, with their scores (chunks scoring 0 are left
    out: they share nothing with the query)."""

    async def work(services: Services) -> list[Any]:
        knowledge = services.knowledge
        dataset = await knowledge.find_dataset(name)
        from chatflow.services.knowledge import effective_retrieval

        retrieval = {**effective_retrieval(dataset), "top_k": top_k}
        if method:
            retrieval["search_method"] = method
        return await knowledge.retrieve(dataset.id, query, retrieval, count_hits=False)

    found = _run(data_dir, work)
    # The API keeps Dify's semantics (top_k chunks, whatever they score, unless a score
    # threshold is on); a person reading a list has no use for chunks that match nothing.
    hits = [hit for hit in found if round(hit.score, 3) > 0]
    if not hits:
        typer.echo("no matching chunks")
    for rank, hit in enumerate(hits, 1):
        text = " ".join(hit.segment.content.split())
        typer.echo(f"{rank}. score={hit.score:.3f}  {hit.document.name} #{hit.segment.position}")
        typer.echo(f"   {text[:300]}{'…' if len(text) > 300 else ''}")
    if hits and len(found) > len(hits):
        typer.echo(f"({len(found) - len(hits)} more scored 0.000: not shown)")
