"""Background ingestion: waiting -> parsing -> splitting -> indexing -> completed | error.

One `Ingester` runs per process. It claims documents with a lease (`ingest_owner` and a
heartbeat it refreshes while working), so several workers sharing a database never work
on the same document, and a document whose worker died (heartbeat older than
`LEASE_SECONDS`) is taken over and ingested again from the start: its old segments and
index entries are removed first. Segments are written as `waiting` and the document
stays out of searches until every chunk is in the index and the document is marked
`completed` in one final write, so a search never sees half a document.

Failures end in `error` with a message a person can act on (the file's problem, or the
index's), never a stuck `indexing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta

from chatflow.engine.nodes._extract_process import run_limited
from chatflow.knowledge import extract, splitter
from chatflow.knowledge.index import ChunkIndex, IndexedChunk
from chatflow.store import Database
from chatflow.store import knowledge as repo
from chatflow.store._types import utcnow
from chatflow.store.knowledge_models import DatasetDocument, DatasetSegment
from chatflow.store.storage import FileStorage

log = logging.getLogger("chatflow.knowledge")

LEASE_SECONDS = 30.0
HEARTBEAT_SECONDS = 5.0
POLL_SECONDS = 5.0
INDEX_BATCH = 64


class IngestFailed(Exception):
    """A document cannot be ingested; the message is shown as its `error`."""


class LeaseLost(Exception):
    """Another worker took the document over (this one was too slow to heartbeat)."""


class Ingester:
    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        index: ChunkIndex,
        *,
        extract_seconds: float = 30.0,
        extract_memory_mb: int = 512,
    ) -> None:
        self._db = db
        # Uploaded documents are someone else's bytes: parsed in a limited child process.
        self._extract_limits = (extract_seconds, extract_memory_mb)
        self._storage = storage
        self._index = index
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # Segment ids the current pass put in the index (one document at a time).
        self._indexed: list[str] = []

    async def start(self) -> None:
        if self._task is None:
            self._closed = False
            self._task = asyncio.create_task(self._loop(), name="knowledge-ingester")

    def wake(self) -> None:
        """New work was queued: look now rather than at the next poll."""
        self._wake.set()

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> int:
        """Ingest what is claimable now; the number of documents handled."""
        handled = 0
        while not self._closed:
            stale_before = utcnow() - timedelta(seconds=LEASE_SECONDS)
            async with self._db.session() as session:
                candidates = await repo.claimable_documents(session, stale_before=stale_before)
            claimed = None
            for document in candidates:
                async with self._db.session() as session:
                    if await repo.claim_document(
                        session,
                        document.id,
                        self.owner,
                        seen_heartbeat=document.ingest_heartbeat,
                        stale_before=stale_before,
                    ):
                        claimed = document
                        break
            if claimed is None:
                return handled
            await self._ingest(claimed.id, claimed.dataset_id)
            handled += 1
        return handled

    async def _loop(self) -> None:
        while not self._closed:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("knowledge ingestion pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _ingest(self, document_id: str, dataset_id: str) -> None:
        started = time.perf_counter()
        self._indexed = []
        heartbeat = asyncio.create_task(self._heartbeat(document_id))
        try:
            await self._steps(document_id, dataset_id, started)
        except LeaseLost:
            async with self._db.session() as session:
                gone = await session.get(DatasetDocument, document_id) is None
            if gone:  # deleted meanwhile: what this pass indexed must not outlive it
                await self._index.remove(dataset_id, self._indexed)
            else:
                log.warning("document %s was taken over by another worker", document_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = str(exc) if isinstance(exc, IngestFailed) else _describe(exc)
            log.warning("document %s failed to ingest: %s", document_id, message)
            async with self._db.session() as session:
                await repo.update_owned_document(
                    session,
                    document_id,
                    self.owner,
                    {"indexing_status": "error", "error": message, "ingest_owner": None},
                )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, document_id: str) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            async with self._db.session() as session:
                await repo.update_owned_document(session, document_id, self.owner, {})

    async def _progress(self, document_id: str, **values: object) -> None:
        async with self._db.session() as session:
            if not await repo.update_owned_document(session, document_id, self.owner, values):
                raise LeaseLost(document_id)

    async def _steps(self, document_id: str, dataset_id: str, started: float) -> None:
        async with self._db.session() as session:
            document = await session.get(DatasetDocument, document_id)
            if document is None:
                return
            old_segments = await repo.document_segment_ids(session, document_id)
        # A retry or an update: what an earlier attempt left goes first.
        if old_segments:
            await self._index.remove(dataset_id, old_segments)
            async with self._db.session() as session:
                await repo.delete_document_segments(session, document_id)
        try:
            content = await self._storage.load(document.storage_key)
        except FileNotFoundError:
            raise IngestFailed(
                f"The uploaded file of {document.name!r} is missing from storage; "
                "upload the document again."
            ) from None
        try:
            seconds, memory_mb = self._extract_limits
            parts = await run_limited(
                extract.__name__,
                "extract",
                content,
                document.extension,
                seconds=seconds,
                memory_mb=memory_mb,
            )
        except Exception as exc:
            raise IngestFailed(
                f"Could not read {document.name!r} as .{document.extension}: {_describe(exc)}. "
                "Check that the file is not damaged or password-protected, or upload it "
                "as text."
            ) from exc
        now = utcnow()
        await self._progress(
            document_id,
            indexing_status="splitting",
            parsing_completed_at=now,
            cleaning_completed_at=now,
        )
        rule = splitter.parse_rule(document.process_rule or None)
        chunks = await asyncio.to_thread(splitter.split, parts, rule)
        if not chunks:
            raise IngestFailed(
                f"No text found in {document.name!r}: a scanned PDF or an empty file has "
                "nothing to index. Upload a text version of the document."
            )
        segments = [_segment(document, position, text) for position, text in enumerate(chunks, 1)]
        async with self._db.session() as session:
            session.add_all(segments)
        await self._progress(
            document_id,
            indexing_status="indexing",
            splitting_completed_at=utcnow(),
            word_count=sum(s.word_count for s in segments),
            tokens=sum(s.tokens for s in segments),
        )
        await self._index_all(dataset_id, segments)
        finished = utcnow()
        await self._progress(
            document_id,
            indexing_status="completed",
            completed_at=finished,
            indexing_latency=time.perf_counter() - started,
            error=None,
            ingest_owner=None,
        )

    async def _index_all(self, dataset_id: str, segments: Sequence[DatasetSegment]) -> None:
        for start in range(0, len(segments), INDEX_BATCH):
            batch = segments[start : start + INDEX_BATCH]
            try:
                await self._index.add(
                    dataset_id,
                    [
                        IndexedChunk(segment_id=s.id, document_id=s.document_id, text=s.content)
                        for s in batch
                    ],
                )
            except Exception as exc:
                raise IngestFailed(
                    f"Indexing failed: {_describe(exc)}. Check the embedding backend "
                    "(CHATFLOW_EMBEDDING_BACKEND) and retry by updating the document."
                ) from exc
            self._indexed.extend(s.id for s in batch)
            now = utcnow()
            async with self._db.session() as session:
                rows = await repo.segments_by_ids(session, [s.id for s in batch])
                for row in rows.values():
                    row.status, row.completed_at = "completed", now
            await self._progress(batch[0].document_id)


def _segment(document: DatasetDocument, position: int, text: str) -> DatasetSegment:
    import hashlib

    return DatasetSegment(
        id=str(uuid.uuid4()),
        dataset_id=document.dataset_id,
        document_id=document.id,
        position=position,
        content=text,
        word_count=splitter.count_words(text),
        tokens=splitter.count_tokens(text),
        keywords=[],
        index_node_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        status="waiting",
        indexing_at=utcnow(),
    )


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
