"""The retrieval engine's own tables, the same on SQLite and Postgres.

`kb_chunks` holds one row per indexed segment: its text, keywords, its embedding as
float32 bytes with the name of the embedder that made it, and its full-text terms
(space-joined, with the tokenizer version that made them), so loading a dataset into
memory never re-embeds or re-tokenizes what is already done. `kb_index_state` holds one
generation number per dataset, raised in the same transaction as every change, so every
worker (and every process sharing the database) knows when its in-memory index of that
dataset is stale. Each chunk row carries the generation that wrote it and each removal
leaves a row in `kb_chunk_removals`, so a worker can bring its index from generation g to
the current one by reading only what changed since g (`changes`); removals older than
`REMOVALS_KEPT` generations are pruned, and `floor` in `kb_index_state` tells a worker
whose index is older than that to load the dataset in full. The tables are created on
first use, idempotently: they belong to the index, not to the API's schema, and their
shape does not depend on any migration.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatflow.store.db import Database
from chatflow.store.direct import Statement

_SCHEMA = {
    "sqlite": (
        """CREATE TABLE IF NOT EXISTS kb_chunks (
            id INTEGER PRIMARY KEY,
            dataset_id TEXT NOT NULL,
            segment_id TEXT NOT NULL,
            document_id TEXT NOT NULL,
            content TEXT NOT NULL,
            keywords TEXT NOT NULL DEFAULT '[]',
            model TEXT NOT NULL,
            vector BLOB NOT NULL,
            terms TEXT NOT NULL,
            terms_version INTEGER NOT NULL,
            UNIQUE (dataset_id, segment_id))""",
        """CREATE TABLE IF NOT EXISTS kb_index_state (
            dataset_id TEXT PRIMARY KEY, generation INTEGER NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS kb_chunk_removals (
            dataset_id TEXT NOT NULL, segment_id TEXT NOT NULL, generation INTEGER NOT NULL)""",
    ),
    "postgresql": (
        """CREATE TABLE IF NOT EXISTS kb_chunks (
            id BIGSERIAL PRIMARY KEY,
            dataset_id TEXT NOT NULL,
            segment_id TEXT NOT NULL,
            document_id TEXT NOT NULL,
            content TEXT NOT NULL,
            keywords TEXT NOT NULL DEFAULT '[]',
            model TEXT NOT NULL,
            vector BYTEA NOT NULL,
            terms TEXT NOT NULL,
            terms_version INTEGER NOT NULL,
            UNIQUE (dataset_id, segment_id))""",
        """CREATE TABLE IF NOT EXISTS kb_index_state (
            dataset_id TEXT PRIMARY KEY, generation BIGINT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS kb_chunk_removals (
            dataset_id TEXT NOT NULL, segment_id TEXT NOT NULL, generation BIGINT NOT NULL)""",
    ),
}
# Columns added after the tables first shipped (tables made by an older version get them).
_ADDED_COLUMNS = (
    ("kb_chunks", "generation", "BIGINT NOT NULL DEFAULT 0"),
    ("kb_index_state", "floor", "BIGINT NOT NULL DEFAULT 0"),
)
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS kb_chunks_generation ON kb_chunks (dataset_id, generation)",
    "CREATE INDEX IF NOT EXISTS kb_chunk_removals_generation "
    "ON kb_chunk_removals (dataset_id, generation)",
)
# What a lost race to create a table, index or column says (Postgres / SQLite).
_RACED = ("already exists", "duplicate key", "duplicate column")
# Removals kept per dataset: a worker whose index is more generations behind than this
# loads the dataset in full instead of catching up.
REMOVALS_KEPT = 1000
# Pruning runs once in this many generations (it scans the dataset's removals).
PRUNE_EVERY = 100


@dataclass(slots=True)
class StoredChunks:
    """A dataset's chunks, column by column (row i of each list is one chunk)."""

    ids: list[int]
    segment_ids: list[str]
    document_ids: list[str]
    contents: list[str]
    keywords: list[str]  # JSON arrays
    models: list[str]
    vectors: list[bytes]
    terms: list[str]
    terms_versions: list[int]


@dataclass(frozen=True, slots=True)
class NewChunk:
    segment_id: str
    document_id: str
    content: str
    keywords: tuple[str, ...]
    model: str
    vector: bytes
    terms: str
    terms_version: int


async def ensure_schema(conn: AsyncConnection) -> None:
    """Create the tables if missing (two workers racing on Postgres: the loser's error is
    the winner's table, so it is ignored)."""
    added = [
        f"ALTER TABLE {table} ADD COLUMN {column} {kind}"
        for table, column, kind in _ADDED_COLUMNS
        if column not in await _columns(conn, table)
    ]
    for ddl in (*_SCHEMA[conn.dialect.name], *added, *_INDEXES):
        try:
            async with conn.begin_nested():
                await conn.execute(text(ddl))
        except (IntegrityError, DBAPIError) as exc:
            if not any(known in str(exc) for known in _RACED):
                raise


async def _columns(conn: AsyncConnection, table: str) -> set[str]:
    """The table's columns (empty when it does not exist yet: CREATE makes them all)."""
    if conn.dialect.name == "sqlite":
        rows = (await conn.execute(text(f"PRAGMA table_info({table})"))).all()
        return {str(r[1]) for r in rows}
    rows = (
        await conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = :t AND table_schema = current_schema()"
            ),
            {"t": table},
        )
    ).all()
    return {str(r[0]) for r in rows}


async def bump_generation(conn: AsyncConnection, dataset_id: str) -> int:
    """Raise the dataset's generation and return it. The row stays locked until the
    transaction ends, so on Postgres concurrent writers of one dataset commit in the
    order of their generations."""
    row = (
        await conn.execute(
            text(
                "INSERT INTO kb_index_state (dataset_id, generation) VALUES (:d, 1) "
                "ON CONFLICT (dataset_id) DO UPDATE "
                "SET generation = kb_index_state.generation + 1 RETURNING generation"
            ),
            {"d": dataset_id},
        )
    ).one()
    return int(row[0])


async def record_removals(
    conn: AsyncConnection, dataset_id: str, segment_ids: Collection[str], generation: int
) -> None:
    """Note removed segments for workers catching up; prune what no worker needs."""
    if segment_ids:
        await conn.execute(
            text(
                "INSERT INTO kb_chunk_removals (dataset_id, segment_id, generation) "
                "VALUES (:d, :s, :g)"
            ),
            [{"d": dataset_id, "s": s, "g": generation} for s in segment_ids],
        )
    floor = generation - REMOVALS_KEPT
    if floor > 0 and generation % PRUNE_EVERY == 0:
        await conn.execute(
            text("DELETE FROM kb_chunk_removals WHERE dataset_id = :d AND generation <= :g"),
            {"d": dataset_id, "g": floor},
        )
        await raise_floor(conn, dataset_id, floor)


async def raise_floor(conn: AsyncConnection, dataset_id: str, floor: int) -> None:
    """Indexes older than generation `floor` cannot catch up: they load in full."""
    await conn.execute(
        text("UPDATE kb_index_state SET floor = :f WHERE dataset_id = :d AND floor < :f"),
        {"d": dataset_id, "f": floor},
    )


_GENERATION = Statement(text("SELECT generation FROM kb_index_state WHERE dataset_id = :d"))


async def generation(db: Database, dataset_id: str) -> int:
    """The dataset's generation (0: never written). Runs on every search, so it takes
    the database's direct read path rather than SQLAlchemy's execution layer."""
    row = await db.read_one(_GENERATION, {"d": dataset_id})
    return int(row[0]) if row else 0


async def upsert(
    conn: AsyncConnection, dataset_id: str, chunks: Sequence[NewChunk], generation: int
) -> None:
    """Insert chunks written at `generation`, replacing any with the same segment id in
    this dataset (a replaced row needs no removal record: its new row says it)."""
    if not chunks:
        return
    await delete(conn, dataset_id, [c.segment_id for c in chunks])
    await conn.execute(
        text(
            "INSERT INTO kb_chunks (dataset_id, segment_id, document_id, content, keywords, "
            "model, vector, terms, terms_version, generation) VALUES (:dataset_id, "
            ":segment_id, :document_id, :content, :keywords, :model, :vector, :terms, "
            ":terms_version, :generation)"
        ),
        [
            {
                "generation": generation,
                "dataset_id": dataset_id,
                "segment_id": c.segment_id,
                "document_id": c.document_id,
                "content": c.content,
                "keywords": json.dumps(list(c.keywords), ensure_ascii=False),
                "model": c.model,
                "vector": c.vector,
                "terms": c.terms,
                "terms_version": c.terms_version,
            }
            for c in chunks
        ],
    )


async def delete(conn: AsyncConnection, dataset_id: str, segment_ids: Collection[str]) -> None:
    ids = list(segment_ids)
    # Chunked: SQLite caps bound parameters per statement.
    for start in range(0, len(ids), 500):
        await conn.execute(
            text("DELETE FROM kb_chunks WHERE dataset_id = :d AND segment_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"d": dataset_id, "ids": ids[start : start + 500]},
        )


async def drop(conn: AsyncConnection, dataset_id: str, generation: int) -> None:
    """Remove the whole dataset; every worker's index of it is then older than the floor."""
    await conn.execute(text("DELETE FROM kb_chunks WHERE dataset_id = :d"), {"d": dataset_id})
    await conn.execute(
        text("DELETE FROM kb_chunk_removals WHERE dataset_id = :d"), {"d": dataset_id}
    )
    await raise_floor(conn, dataset_id, generation)


_LOAD = (
    "SELECT id, segment_id, document_id, content, keywords, model, vector, terms, "
    "terms_version FROM kb_chunks WHERE dataset_id = {} ORDER BY id"
)


async def load(db: Database, dataset_id: str) -> StoredChunks:
    """Every chunk of the dataset, in insertion order. Read on the driver connection:
    a 100k-chunk dataset is 100k rows, and SQLAlchemy's row objects cost more than the
    query itself."""
    return _columns_of(await _fetch(db, _LOAD, dataset_id))


async def _fetch(db: Database, query: str, *values: object) -> list[Any]:
    """Rows of `query` (placeholders written `{}`, numbered `{1}`... by position)."""
    async with db.engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        if conn.dialect.name == "sqlite":
            # The app database's SQLite runs inline (`store/_sqlite.py`): plain `sqlite3`.
            marks = ["?"] * len(values)
            return list(driver.execute(query.format(*marks), values).fetchall())
        numbered = query.format(*(f"${i + 1}" for i in range(len(values))))
        return list(await driver.fetch(numbered, *values))


def _columns_of(rows: Sequence[Sequence[Any]]) -> StoredChunks:
    columns = list(zip(*rows, strict=True)) if rows else [()] * 9
    return StoredChunks(
        ids=list(columns[0]),
        segment_ids=list(columns[1]),
        document_ids=list(columns[2]),
        contents=list(columns[3]),
        keywords=list(columns[4]),
        models=list(columns[5]),
        vectors=[bytes(v) for v in columns[6]],
        terms=list(columns[7]),
        terms_versions=list(columns[8]),
    )


async def replace_vectors(
    conn: AsyncConnection, model: str, vectors: Sequence[tuple[int, bytes]]
) -> None:
    """Store re-made embeddings (chunk id, vector) under `model`."""
    if vectors:
        await conn.execute(
            text("UPDATE kb_chunks SET model = :m, vector = :v WHERE id = :id"),
            [{"m": model, "v": v, "id": i} for i, v in vectors],
        )


async def replace_terms(
    conn: AsyncConnection, version: int, terms: Sequence[tuple[int, str]]
) -> None:
    """Store re-made full-text terms (chunk id, terms) made by tokenizer `version`."""
    if terms:
        await conn.execute(
            text("UPDATE kb_chunks SET terms = :t, terms_version = :v WHERE id = :id"),
            [{"t": t, "v": version, "id": i} for i, t in terms],
        )


@dataclass(slots=True)
class Changes:
    """What changed in a dataset after some generation, read in one statement (so one
    consistent state: every writer's transaction is in it whole or not at all)."""

    generation: int  # the dataset's generation these changes bring an index to
    floor: int  # an index older than this cannot use them
    removed: list[str]  # segment ids removed (some may have been written again since)
    written: StoredChunks  # rows written (new or replacing a segment id)


# Three kinds of rows in one statement: 0 = the dataset's state, 1 = a chunk written
# after the given generation, 2 = a removal after it. Unknown-typed NULLs take the types
# of the first branch's columns (on Postgres too).
_CHANGES = (
    "SELECT 1, id, segment_id, document_id, content, keywords, model, vector, terms, "
    "terms_version FROM kb_chunks WHERE dataset_id = {} AND generation > {} "
    "UNION ALL SELECT 2, generation, segment_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM kb_chunk_removals WHERE dataset_id = {} AND generation > {} "
    "UNION ALL SELECT 0, generation, NULL, NULL, NULL, NULL, NULL, NULL, NULL, floor "
    "FROM kb_index_state WHERE dataset_id = {} ORDER BY 1, 2"
)


async def changes(db: Database, dataset_id: str, since: int) -> Changes:
    """Chunks written and segments removed after generation `since`."""
    rows = await _fetch(db, _CHANGES, dataset_id, since, dataset_id, since, dataset_id)
    generation = floor = 0
    removed: list[str] = []
    written: list[Sequence[Any]] = []
    for row in rows:
        if row[0] == 0:
            generation, floor = int(row[1]), int(row[9])
        elif row[0] == 1:
            written.append(tuple(row)[1:])
        else:
            removed.append(str(row[2]))
    return Changes(generation, floor, removed, _columns_of(written))
