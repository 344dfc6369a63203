"""Background ingestion on a real database (SQLite and Postgres): leases, restarts, and
searches that never see half a document."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from chatflow.knowledge.index import ChunkIndex, IndexedChunk
from chatflow.providers.fake import HashingEmbedder
from chatflow.services.knowledge import KnowledgeService, NewDocument
from chatflow.services.knowledge_ingest import LEASE_SECONDS, Ingester
from chatflow.store import Database
from chatflow.store import knowledge as repo
from chatflow.store._types import utcnow
from chatflow.store.knowledge_models import DatasetDocument, DatasetSegment
from chatflow.store.storage import LocalFileStorage
from tests.store.conftest import Target, target

__all__ = ["target"]

pytestmark = pytest.mark.timeout(120)

LINES = [f"Fact {i}: the lighthouse number {i} shines {i * 3} times a minute." for i in range(200)]


class GatedEmbedder(HashingEmbedder):
    """Hashing vectors; a batch of many texts waits at the gate once (mid-ingestion)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()
        self.batches = 0

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) > 1:
            self.batches += 1
            if self.batches == 2:
                self.waiting.set()
                await self.gate.wait()
        return await super().embed(texts)


@pytest.fixture
async def db(target: Target) -> AsyncIterator[Database]:
    database = target.database()
    await database.connect()
    yield database
    await database.close()


def _service(db: Database, tmp_path: Path, embedder: HashingEmbedder) -> KnowledgeService:
    return KnowledgeService(db, LocalFileStorage(tmp_path / "uploads"), ChunkIndex(db, embedder))


async def _document(service: KnowledgeService, text: str) -> tuple[str, str]:
    dataset = await service.create_dataset("lighthouses", indexing_technique="high_quality")
    rule = {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [],
            "segmentation": {"separator": "\n", "max_tokens": 50, "chunk_overlap": 0},
        },
    }
    document, _ = await service.create_document(
        dataset.row.id,
        NewDocument("facts.txt", text.encode(), "txt", "text/plain", rule),
    )
    return dataset.row.id, document.id


async def _status(db: Database, document_id: str) -> DatasetDocument:
    async with db.session() as session:
        found = await session.get(DatasetDocument, document_id)
        assert found is not None
        return found


async def test_search_never_sees_a_half_indexed_document(db: Database, tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    service = _service(db, tmp_path, embedder)
    dataset_id, document_id = await _document(service, "\n".join(LINES))
    run = asyncio.create_task(service.ingester.run_once())
    await asyncio.wait_for(embedder.waiting.wait(), 30)
    # The first batch is in the index, the second is being embedded.
    mid = await _status(db, document_id)
    assert mid.indexing_status == "indexing"
    hits = await service.retrieve(dataset_id, "lighthouse number 3 shines")
    assert hits == []
    embedder.gate.set()
    assert await run == 1
    done = await _status(db, document_id)
    assert done.indexing_status == "completed" and done.error is None
    hits = await service.retrieve(dataset_id, "lighthouse number 3 shines 9 times")
    assert hits and "number 3 " in hits[0].segment.content


async def test_a_dead_workers_document_is_taken_over(db: Database, tmp_path: Path) -> None:
    service = _service(db, tmp_path, HashingEmbedder())
    dataset_id, document_id = await _document(service, "\n".join(LINES[:40]))
    stale = utcnow() - timedelta(seconds=LEASE_SECONDS * 2)
    async with db.session() as session:
        assert await repo.claim_document(
            session, document_id, "dead-worker", seen_heartbeat=None, stale_before=stale
        )
    # The dead worker had written segments and indexed some of them before it died.
    orphan = DatasetSegment(
        dataset_id=dataset_id, document_id=document_id, position=1, content="half written"
    )
    async with db.session() as session:
        session.add(orphan)
        document = await session.get(DatasetDocument, document_id)
        assert document is not None
        document.indexing_status = "indexing"
    await service.index.add(dataset_id, [IndexedChunk(orphan.id, document_id, "half written")])
    assert await service.retrieve(dataset_id, "half written") == []

    # A live lease is respected...
    other = Ingester(db, service.storage, service.index)
    assert await other.run_once() == 0
    assert (await _status(db, document_id)).ingest_owner == "dead-worker"
    # ...a stale one (no heartbeat for LEASE_SECONDS) is taken over from the start.
    async with db.session() as session:
        document = await session.get(DatasetDocument, document_id)
        assert document is not None
        document.ingest_heartbeat = stale
    assert await other.run_once() == 1
    done = await _status(db, document_id)
    assert done.indexing_status == "completed" and done.ingest_owner is None
    async with db.session() as session:
        contents = [
            s.content
            for s in (await repo.list_segments(session, document_id, page=1, limit=100)).items
        ]
    assert "half written" not in contents and len(contents) >= 2
    leftovers = await service.retrieve(dataset_id, "half written")
    assert all("half written" not in h.segment.content for h in leftovers)
    assert (await service.retrieve(dataset_id, "lighthouse number 7 shines 21"))[0]


async def test_failures_say_what_to_do(db: Database, tmp_path: Path) -> None:
    service = _service(db, tmp_path, HashingEmbedder())
    _, document_id = await _document(service, "   \n\n  ")
    assert await service.ingester.run_once() == 1
    failed = await _status(db, document_id)
    assert failed.indexing_status == "error"
    assert failed.error is not None and "No text found" in failed.error
    assert "Upload" in failed.error and failed.ingest_owner is None


async def test_parsing_runs_in_a_limited_child_process(db: Database, tmp_path: Path) -> None:
    """An upload's parse runs under the extraction limits: one that needs more memory than
    allowed fails the document with a readable error (the other tests parse under the
    default limits)."""
    service = KnowledgeService(
        db,
        LocalFileStorage(tmp_path / "uploads"),
        ChunkIndex(db, HashingEmbedder()),
        extract_memory_mb=8,
    )
    # 12 MB of text cannot even be received by a child held to 8 MB.
    _, document_id = await _document(service, "lighthouse " * 1_200_000)
    assert await service.ingester.run_once() == 1
    failed = await _status(db, document_id)
    assert failed.indexing_status == "error"
    assert failed.error is not None
    assert "memory" in failed.error or "limits" in failed.error, failed.error
