"""A changed dataset's first search: incremental catch-up against a full rebuild.

On SQLite (a temporary file) or Postgres (`--postgres URL`, a fresh schema dropped
afterwards), a dataset of N chunks (bench.retrieval's corpus, WordLlama vectors) is
indexed and searched once; then five times a 20-chunk document is replaced (its old
chunks removed, the new ones added: two generations) and the next search timed: the
snapshot catches up. The baseline is a fresh `ChunkIndex`'s first search of the same
dataset: the full rebuild every change cost before.

Usage: python -m bench.retrieval_catchup [--sizes 1000,10000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid

from bench.retrieval import _catch_up_ms, corpus
from chatflow.knowledge.index import ChunkIndex, IndexedChunk, RetrievalSettings
from chatflow.providers.embeddings import StaticEmbedder
from chatflow.store import Database


async def measure(db: Database, size: int) -> tuple[float, float]:
    """(catch-up median ms, full rebuild ms) at `size` chunks."""
    embedder = StaticEmbedder()
    texts = corpus(size)
    index = ChunkIndex(db, embedder)
    chunks = [IndexedChunk(f"s{i}", f"d{i % 50}", t) for i, t in enumerate(texts)]
    for start in range(0, size, 1000):
        await index.add("bench", chunks[start : start + 1000])
    settings = RetrievalSettings(search_method="hybrid_search", top_k=4)
    await index.search("bench", "warm up", settings)
    catch_up = statistics.median(await _catch_up_ms(index, texts, settings))
    assert index.builds == {"full": 1, "incremental": 5}, index.builds
    started = time.perf_counter()
    await ChunkIndex(db, embedder).search("bench", "warm up", settings)
    return catch_up, (time.perf_counter() - started) * 1000


async def run(sizes: list[int], postgres: str | None) -> None:
    print("| database | chunks | catch-up (median of 5) | full rebuild | ratio |")
    print("|---|---:|---:|---:|---:|")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            url = postgres or f"sqlite+aiosqlite:///{tmp}/bench.db"
            db = Database(url, schema=schema) if postgres else Database(url)
            await db.connect()
            try:
                catch_up, rebuild = await measure(db, size)
            finally:
                if postgres:
                    async with db.engine.begin() as conn:
                        from sqlalchemy import text

                        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                await db.close()
        name = "Postgres" if postgres else "SQLite"
        print(
            f"| {name} | {size:,} | {catch_up:.1f} ms | {rebuild:,.0f} ms "
            f"| {catch_up / rebuild:.3f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    asyncio.run(run([int(s) for s in args.sizes.split(",")], args.postgres))


if __name__ == "__main__":
    main()
