"""The retrieval engine's own tables, the same on SQLite and Postgres.

`kb_chunks` holds one row per indexed segment: its text, keywords, its embedding as
float32 bytes with the name of the embedder that made it, and its full-text terms
(space-joined, with the tokenizer version that made them), so loading a dataset into
memory never re-embeds or re-tokenizes what is already done. `kb_index_state` holds one
generation number per dataset, raised in the same transaction as every change, so every
worker (and every process sharing the database) knows when its in-memory index of that
dataset is stale. The tables are created on first use, idempotently: they belong to the
index, not to the API's schema, and their shape does not depend on any migration.
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
    ),
}


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
    for ddl in _SCHEMA[conn.dialect.name]:
        try:
            async with conn.begin_nested():
                await conn.execute(text(ddl))
        except (IntegrityError, DBAPIError) as exc:
            if "already exists" not in str(exc) and "duplicate key" not in str(exc):
                raise


async def bump_generation(conn: AsyncConnection, dataset_id: str) -> None:
    await conn.execute(
        text(
            "INSERT INTO kb_index_state (dataset_id, generation) VALUES (:d, 1) "
            "ON CONFLICT (dataset_id) DO UPDATE "
            "SET generation = kb_index_state.generation + 1"
        ),
        {"d": dataset_id},
    )


_GENERATION = Statement(text("SELECT generation FROM kb_index_state WHERE dataset_id = :d"))


async def generation(db: Database, dataset_id: str) -> int:
    """The dataset's generation (0: never written). Runs on every search, so it takes
    the database's direct read path rather than SQLAlchemy's execution layer."""
    row = await db.read_one(_GENERATION, {"d": dataset_id})
    return int(row[0]) if row else 0


async def upsert(conn: AsyncConnection, dataset_id: str, chunks: Sequence[NewChunk]) -> None:
    """Insert chunks, replacing any with the same segment id in this dataset."""
    if not chunks:
        return
    await delete(conn, dataset_id, [c.segment_id for c in chunks])
    await conn.execute(
        text(
            "INSERT INTO kb_chunks (dataset_id, segment_id, document_id, content, keywords, "
            "model, vector, terms, terms_version) VALUES (:dataset_id, :segment_id, "
            ":document_id, :content, :keywords, :model, :vector, :terms, :terms_version)"
        ),
        [
            {
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


async def drop(conn: AsyncConnection, dataset_id: str) -> None:
    await conn.execute(text("DELETE FROM kb_chunks WHERE dataset_id = :d"), {"d": dataset_id})


_LOAD = (
    "SELECT id, segment_id, document_id, content, keywords, model, vector, terms, "
    "terms_version FROM kb_chunks WHERE dataset_id = {} ORDER BY id"
)


async def load(db: Database, dataset_id: str) -> StoredChunks:
    """Every chunk of the dataset, in insertion order. Read on the driver connection:
    a 100k-chunk dataset is 100k rows, and SQLAlchemy's row objects cost more than the
    query itself."""
    async with db.engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        if conn.dialect.name == "sqlite":
            async with driver.execute(_LOAD.format("?"), (dataset_id,)) as cursor:
                rows = list(await cursor.fetchall())
        else:
            rows = list(await driver.fetch(_LOAD.format("$1"), dataset_id))
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
