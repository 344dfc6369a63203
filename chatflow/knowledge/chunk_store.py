"""The retrieval engine's own tables, the same on SQLite and Postgres.

`kb_chunks` holds one row per indexed segment: its text, keywords, and its embedding as
float32 bytes with the name of the embedder that made it. `kb_index_state` holds one
generation number per dataset, raised in the same transaction as every change, so every
worker (and every process sharing the database) knows when its in-memory index of that
dataset is stale. The tables are created on first use, idempotently: they belong to the
index, not to the API's schema, and their shape does not depend on any migration.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass

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
            UNIQUE (dataset_id, segment_id))""",
        """CREATE TABLE IF NOT EXISTS kb_index_state (
            dataset_id TEXT PRIMARY KEY, generation BIGINT NOT NULL)""",
    ),
}


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: int
    segment_id: str
    document_id: str
    content: str
    keywords: tuple[str, ...]
    model: str
    vector: bytes


@dataclass(frozen=True, slots=True)
class NewChunk:
    segment_id: str
    document_id: str
    content: str
    keywords: tuple[str, ...]
    model: str
    vector: bytes


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
            "INSERT INTO kb_chunks "
            "(dataset_id, segment_id, document_id, content, keywords, model, vector) "
            "VALUES (:dataset_id, :segment_id, :document_id, :content, :keywords, :model, :vector)"
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


async def load(conn: AsyncConnection, dataset_id: str) -> list[StoredChunk]:
    """Every chunk of the dataset, in insertion order."""
    result = await conn.execute(
        text(
            "SELECT id, segment_id, document_id, content, keywords, model, vector "
            "FROM kb_chunks WHERE dataset_id = :d ORDER BY id"
        ),
        {"d": dataset_id},
    )
    return [
        StoredChunk(
            id=int(r[0]),
            segment_id=r[1],
            document_id=r[2],
            content=r[3],
            keywords=tuple(json.loads(r[4])),
            model=r[5],
            vector=bytes(r[6]),
        )
        for r in result
    ]


async def replace_vectors(
    conn: AsyncConnection, model: str, vectors: Sequence[tuple[int, bytes]]
) -> None:
    """Store re-made embeddings (chunk id, vector) under `model`."""
    if vectors:
        await conn.execute(
            text("UPDATE kb_chunks SET model = :m, vector = :v WHERE id = :id"),
            [{"m": model, "v": v, "id": i} for i, v in vectors],
        )
