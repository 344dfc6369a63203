"""ChunkIndex on real SQLite and real Postgres: the same behaviour on both.

Postgres is skipped only outside CI: with `CI` set, an unreachable server fails the run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import make_url, text

from chatflow.knowledge import chunk_store
from chatflow.knowledge import index as index_module
from chatflow.knowledge.index import ChunkIndex, Hit, IndexedChunk, RetrievalSettings
from chatflow.providers.embeddings import StaticEmbedder
from chatflow.providers.fake import HashingEmbedder
from chatflow.store import Database

PG_URL = os.environ.get(
    "CHATFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

CHUNKS = [
    IndexedChunk(
        "refund",
        "policies",
        "Refunds for online orders are paid back to the original card within 14 days.",
    ),
    IndexedChunk(
        "shipping",
        "policies",
        "Standard shipping takes three to five business days; express arrives next day.",
    ),
    IndexedChunk(
        "vacation",
        "handbook",
        "Employees accrue 1.5 days of paid vacation per month worked.",
        keywords=("holiday", "annual leave"),
    ),
    IndexedChunk("museum", "handbook", "The museum is closed on Mondays."),
    IndexedChunk(
        "zh-refund", "zh", "网上订单的退款会在退回商品到达仓库后十四天内原路退回到银行卡。"
    ),
    IndexedChunk("zh-museum", "zh", "博物馆每周一闭馆，每月第一个星期日免费开放。"),
]


def _postgres_reachable() -> bool:
    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'chatflow.db'}")
        await database.connect()
        yield database
        await database.close()
        return
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"Postgres is required in CI but {PG_URL} is unreachable")
        pytest.skip(f"Postgres not reachable at {PG_URL}")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    database = Database(PG_URL, schema=schema)
    await database.connect()
    yield database
    await database.close()
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def index(db: Database) -> ChunkIndex:
    chunk_index = ChunkIndex(db, StaticEmbedder())
    await chunk_index.add("ds", CHUNKS)
    return chunk_index


def settings(method: str = "semantic_search", **values: object) -> RetrievalSettings:
    return RetrievalSettings.from_dify({"search_method": method, "top_k": 3, **values})


def ids(hits: Sequence[Hit]) -> list[str]:
    return [h.segment_id for h in hits]


async def test_semantic_search_finds_a_paraphrase(index: ChunkIndex) -> None:
    hits = await index.search("ds", "when will I get my money back", settings())
    assert ids(hits)[0] == "refund"
    assert len(hits) == 3
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_full_text_search_matches_chinese_and_keywords(index: ChunkIndex) -> None:
    full_text = settings("full_text_search")
    # No spaces in Chinese: the CJK bigrams of the query meet the passage's.
    assert ids(await index.search("ds", "博物馆星期一开门吗", full_text))[0] == "zh-museum"
    assert ids(await index.search("ds", "退款多久到账", full_text))[0] == "zh-refund"
    # A segment's keywords are searchable too, and word forms meet ("Mondays" ~ "monday").
    assert ids(await index.search("ds", "holiday", full_text)) == ["vacation"]
    assert ids(await index.search("ds", "monday", full_text)) == ["museum"]
    # Only chunks that share a term come back from full-text search.
    assert await index.search("ds", "quantum chromodynamics", full_text) == []
    assert ids(await index.search("ds", "博物馆", settings("keyword_search")))[0] == "zh-museum"


async def test_hybrid_search_uses_dify_weights(index: ChunkIndex) -> None:
    query = "how many days until my refund arrives"
    hybrid = await index.search("ds", query, settings("hybrid_search"))
    assert ids(hybrid)[0] == "refund"
    vector_only = settings(
        "hybrid_search",
        weights={
            "vector_setting": {"vector_weight": 1.0},
            "keyword_setting": {"keyword_weight": 0.0},
        },
    )
    keyword_only = settings(
        "hybrid_search",
        weights={
            "vector_setting": {"vector_weight": 0.0},
            "keyword_setting": {"keyword_weight": 1.0},
        },
    )
    semantic = {h.segment_id: h.score for h in await index.search("ds", query, settings())}
    for hit in await index.search("ds", query, vector_only):
        assert hit.score == pytest.approx(semantic[hit.segment_id], abs=1e-5)
    keyword = await index.search("ds", query, keyword_only)
    full_text = await index.search("ds", query, settings("full_text_search"))
    assert [(h.segment_id, h.score) for h in keyword if h.score > 0] == [
        (h.segment_id, h.score) for h in full_text
    ]
    # The weighted score is the weighted mean of the two.
    by_id_kw = {h.segment_id: h.score for h in full_text}
    for hit in hybrid:
        expected = 0.7 * semantic.get(hit.segment_id, hit.score) + 0.3 * by_id_kw.get(
            hit.segment_id, 0.0
        )
        if hit.segment_id in semantic:
            assert hit.score == pytest.approx(expected, abs=1e-5)


async def test_top_k_threshold_and_document_filter(index: ChunkIndex) -> None:
    query = "refund to my card"
    assert len(await index.search("ds", query, settings(top_k=1))) == 1
    assert len(await index.search("ds", query, settings(top_k=10))) == len(CHUNKS)
    best = (await index.search("ds", query, settings()))[0]
    strict = settings(score_threshold_enabled=True, score_threshold=best.score - 1e-6)
    assert ids(await index.search("ds", query, strict)) == [best.segment_id]
    # The threshold only applies when enabled (Dify's switch).
    loose = settings(score_threshold_enabled=False, score_threshold=0.99)
    assert len(await index.search("ds", query, loose)) == 3
    handbook = await index.search("ds", query, settings(top_k=10), document_ids=["handbook"])
    assert set(ids(handbook)) == {"vacation", "museum"}
    assert await index.search("ds", query, settings(), document_ids=[]) == []
    assert await index.search("ds", query, settings(), document_ids=["nope"]) == []
    for method in ("full_text_search", "hybrid_search"):
        hits = await index.search("ds", "退款", settings(method), document_ids=["policies"])
        assert set(ids(hits)) <= {"refund", "shipping"}


async def test_datasets_are_separate_and_empty_queries_find_nothing(index: ChunkIndex) -> None:
    await index.add("other", [IndexedChunk("x", "d", "Refunds are never given.")])
    assert ids(await index.search("other", "refund", settings())) == ["x"]
    assert "x" not in ids(await index.search("ds", "refund", settings(top_k=10)))
    assert await index.search("missing", "refund", settings()) == []
    assert await index.search("ds", "   ", settings()) == []


async def test_remove_replace_and_drop(index: ChunkIndex) -> None:
    await index.remove("ds", ["refund"])
    assert "refund" not in ids(await index.search("ds", "refund card", settings(top_k=10)))
    # Adding an existing segment id replaces its text (a segment update).
    await index.add("ds", [IndexedChunk("museum", "handbook", "Cats sleep sixteen hours a day.")])
    hits = await index.search("ds", "how long do cats sleep", settings("full_text_search"))
    assert ids(hits) == ["museum"]
    assert await index.search("ds", "closed on mondays", settings("full_text_search")) == []
    await index.drop_dataset("ds")
    assert await index.search("ds", "cats", settings()) == []


async def test_another_worker_sees_changes_at_its_next_search(db: Database) -> None:
    writer = ChunkIndex(db, StaticEmbedder())
    reader = ChunkIndex(db, StaticEmbedder())
    await writer.add("ds", CHUNKS[:2])
    assert ids(await reader.search("ds", "refund", settings("full_text_search"))) == ["refund"]
    await writer.add("ds", [IndexedChunk("late", "d", "A refund for late deliveries.")])
    assert "late" in ids(await reader.search("ds", "refund", settings("full_text_search")))
    await writer.remove("ds", ["refund", "late"])
    assert await reader.search("ds", "refund", settings("full_text_search")) == []


class BrokenEmbedder(HashingEmbedder):
    """Embeds the first batch, then fails: an `add` must store nothing."""

    calls = 0

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("embedding service went away")
        return await super().embed(texts)


async def test_a_failed_add_leaves_nothing_half_indexed(db: Database) -> None:
    index = ChunkIndex(db, BrokenEmbedder())
    chunks = [IndexedChunk(f"s{i}", "d", f"chunk number {i} about refunds") for i in range(600)]
    with pytest.raises(RuntimeError):
        await index.add("ds", chunks)
    assert (
        await ChunkIndex(db, HashingEmbedder()).search(
            "ds", "refunds", settings("full_text_search")
        )
        == []
    )


async def test_a_changed_embedder_re_embeds_stored_chunks(db: Database) -> None:
    await ChunkIndex(db, HashingEmbedder()).add("ds", CHUNKS)
    static = ChunkIndex(db, StaticEmbedder())
    assert ids(await static.search("ds", "when will I get my money back", settings()))[0] == (
        "refund"
    )
    async with db.engine.connect() as conn:
        models = (await conn.execute(text("SELECT DISTINCT model FROM kb_chunks"))).all()
    assert [m[0] for m in models] == [static.model]


async def test_terms_of_an_older_tokenizer_are_made_again(db: Database) -> None:
    await ChunkIndex(db, StaticEmbedder()).add("ds", CHUNKS)
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE kb_chunks SET terms = '', terms_version = 0"))
    index = ChunkIndex(db, StaticEmbedder())
    hits = await index.search("ds", "博物馆", settings("full_text_search"))
    assert ids(hits)[0] == "zh-museum"
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT terms, terms_version FROM kb_chunks"))).all()
    assert all(version == 1 and terms for terms, version in rows)


async def _all_hits(index: ChunkIndex, document_ids: list[str] | None = None) -> list[object]:
    """Every method's hits (ids and scores) for a few queries: a snapshot's fingerprint."""
    out: list[object] = []
    for method in ("semantic_search", "full_text_search", "hybrid_search"):
        for query in ("refund card", "博物馆 闭馆", "cats sleep", "holiday"):
            hits = await index.search("ds", query, settings(method, top_k=10), document_ids)
            out.append([(h.segment_id, round(h.score, 5)) for h in hits])
    return out


async def test_changes_are_applied_incrementally_and_match_a_full_build(db: Database) -> None:
    writer = ChunkIndex(db, StaticEmbedder())
    reader = ChunkIndex(db, StaticEmbedder())
    await writer.add("ds", CHUNKS)
    await reader.search("ds", "refund", settings())
    assert reader.builds == {"full": 1, "incremental": 0}
    steps = [
        lambda: writer.add("ds", [IndexedChunk("cats", "pets", "Cats sleep sixteen hours.")]),
        lambda: writer.remove("ds", ["refund", "zh-museum"]),
        # A segment rewritten (and moved to another document), one removed id written again.
        lambda: writer.add(
            "ds",
            [
                IndexedChunk("museum", "pets", "Museum cats sleep on Mondays."),
                IndexedChunk("refund", "policies", "Refunds go back to the card in 14 days."),
            ],
        ),
        lambda: writer.remove("ds", ["nothing-of-that-id"]),
        lambda: writer.add("ds", [IndexedChunk("zh-museum", "zh", "博物馆每周一闭馆。")]),
    ]
    for step, change in enumerate(steps, start=1):
        await change()
        # The writer's own snapshot catches up too (its writes no longer drop it).
        fresh = ChunkIndex(db, StaticEmbedder())
        for index in (reader, writer):
            assert await _all_hits(index) == await _all_hits(fresh), step
            assert await _all_hits(index, ["pets", "zh"]) == await _all_hits(fresh, ["pets", "zh"])
        assert reader.builds == {"full": 1, "incremental": step}
    assert "refund" in ids(await reader.search("ds", "refund card", settings("full_text_search")))


async def test_catching_up_several_generations_at_once(db: Database) -> None:
    writer = ChunkIndex(db, StaticEmbedder())
    reader = ChunkIndex(db, StaticEmbedder())
    await writer.add("ds", CHUNKS)
    await reader.search("ds", "refund", settings())
    await writer.remove("ds", ["refund"])
    await writer.add("ds", [IndexedChunk("refund", "policies", "Refunds in 14 days.")])
    await writer.remove("ds", ["refund", "museum"])
    await writer.add("ds", [IndexedChunk("late", "d", "A refund for late deliveries.")])
    assert await _all_hits(reader) == await _all_hits(ChunkIndex(db, StaticEmbedder()))
    assert reader.builds == {"full": 1, "incremental": 1}


async def test_a_dropped_or_pruned_past_is_loaded_in_full(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = ChunkIndex(db, StaticEmbedder())
    reader = ChunkIndex(db, StaticEmbedder())
    await writer.add("ds", CHUNKS)
    await reader.search("ds", "refund", settings())
    await writer.drop_dataset("ds")
    await writer.add("ds", CHUNKS[:1])
    assert ids(await reader.search("ds", "museum", settings(top_k=10))) == ["refund"]
    assert reader.builds == {"full": 2, "incremental": 0}
    # Removals older than the kept window are pruned: a reader that far behind reloads.
    monkeypatch.setattr(chunk_store, "REMOVALS_KEPT", 1)
    monkeypatch.setattr(chunk_store, "PRUNE_EVERY", 1)
    await writer.add("ds", CHUNKS[1:3])
    await writer.remove("ds", ["refund"])
    await writer.remove("ds", ["shipping"])
    assert ids(await reader.search("ds", "museum", settings(top_k=10))) == ["vacation"]
    assert reader.builds == {"full": 3, "incremental": 0}


async def test_a_large_share_of_changes_rebuilds_in_full(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "_REBUILD_MIN_ROWS", 4)
    reader = ChunkIndex(db, HashingEmbedder())
    await reader.add("ds", CHUNKS)
    await reader.search("ds", "refund", settings())
    await reader.remove("ds", ["refund"])
    await reader.search("ds", "refund", settings())
    assert reader.builds == {"full": 1, "incremental": 1}
    await reader.add("ds", [IndexedChunk(f"n{i}", "d", f"note {i}") for i in range(5)])
    await reader.search("ds", "refund", settings())
    assert reader.builds == {"full": 2, "incremental": 1}


async def test_tables_of_an_older_version_get_the_new_columns(db: Database) -> None:
    sqlite = db.engine.dialect.name == "sqlite"
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE kb_chunks ("
                + ("id INTEGER PRIMARY KEY" if sqlite else "id BIGSERIAL PRIMARY KEY")
                + ", dataset_id TEXT NOT NULL, segment_id TEXT NOT NULL, "
                "document_id TEXT NOT NULL, content TEXT NOT NULL, "
                "keywords TEXT NOT NULL DEFAULT '[]', model TEXT NOT NULL, vector "
                + ("BLOB" if sqlite else "BYTEA")
                + " NOT NULL, terms TEXT NOT NULL, terms_version INTEGER NOT NULL, "
                "UNIQUE (dataset_id, segment_id))"
            )
        )
        await conn.execute(
            text(
                "CREATE TABLE kb_index_state (dataset_id TEXT PRIMARY KEY, "
                "generation INTEGER NOT NULL)"
            )
        )
    index = ChunkIndex(db, StaticEmbedder())
    await index.add("ds", CHUNKS)
    await index.search("ds", "refund", settings())
    await index.remove("ds", ["refund"])
    assert "refund" not in ids(await index.search("ds", "refund card", settings(top_k=10)))
    assert index.builds == {"full": 1, "incremental": 1}


async def test_a_snapshot_never_holds_half_a_rewritten_document(db: Database) -> None:
    """A writer rewrites a 10-chunk document again and again (each version in one
    transaction) while a reader catches up: every snapshot the reader makes holds one
    version of all ten chunks, never a mix."""
    writer = ChunkIndex(db, HashingEmbedder())
    reader = ChunkIndex(db, HashingEmbedder())

    def version(k: int) -> list[IndexedChunk]:
        return [IndexedChunk(f"p{i}", "doc", f"policy part {i} version v{k}") for i in range(10)]

    await writer.add("ds", version(0))
    done = asyncio.Event()

    async def write() -> None:
        for k in range(1, 40):
            await writer.add("ds", version(k))
            await asyncio.sleep(0)
        done.set()

    seen: set[int] = set()

    async def read() -> None:
        while not done.is_set():
            snapshot = await reader._snapshot("ds")
            texts = [snapshot.texts[row] for row in snapshot.rows_of.values()]
            versions = {text.rsplit(" v", 1)[1] for text in texts}
            assert len(texts) == 10 and len(versions) == 1, texts
            seen.add(int(versions.pop()))
            await asyncio.sleep(0)

    await asyncio.gather(write(), read())
    assert len(seen) > 1 and reader.builds["incremental"] > 0
