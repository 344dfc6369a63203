"""Annotations: the Q/A pairs, the annotation-reply switch and its jobs, and matching.

`AnnotationService` owns the `/apps/annotations` operations, the enable/disable jobs of
`/apps/annotation-reply/{action}` and the lookup the chat turn makes before running the
graph. Enabling is a real background job (an asyncio task owned here, its status in the
database): it embeds every annotation question with the registry's embedder, then turns
reply on. While reply is on, created and updated annotations are embedded at once, so the
index follows the table. Job statuses are only `waiting|running|completed|failed`, the
values published SDKs accept (Dify itself says `processing`/`error`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from chatflow.errors import InvalidRequest, NotFound
from chatflow.providers.base import Embedder, ModelRegistry
from chatflow.services.single_flight import SingleFlight
from chatflow.store import Database, NumberedPage
from chatflow.store import annotation_embeddings as index_repo
from chatflow.store import annotations as repo
from chatflow.store import turns as turns_repo
from chatflow.store.models import Annotation, AnnotationJob

log = logging.getLogger("chatflow.annotations")

Action = Literal["enable", "disable"]
_BATCH = 64
MAX_LIMIT = 100
SHUTDOWN_ERROR = "The server stopped before the job finished; run it again."


@dataclass(frozen=True, slots=True)
class ReplySettings:
    """The body of `POST /apps/annotation-reply/enable`."""

    score_threshold: float
    embedding_provider_name: str = ""
    embedding_model_name: str = ""


@dataclass(frozen=True, slots=True)
class AnnotationMatch:
    """The annotation that answers a query, and how close the query was."""

    id: str
    question: str
    answer: str
    score: float


def embedder_key(embedder: Embedder) -> str:
    """Names the embedder that made a vector; vectors of other embedders are not compared."""
    kind = type(embedder)
    model = getattr(embedder, "model", None) or getattr(embedder, "model_dir", None) or ""
    return f"{kind.__module__}.{kind.__qualname__}:{model}"[:255]


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    result: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return result


# Every message checks whether its app has annotation reply on; the answer is kept this
# long. A change made by this worker applies at once; one made by another worker (the
# enable/disable job ran there) within this many seconds.
REPLY_SETTING_TTL = 1.0


class AnnotationService:
    def __init__(self, db: Database, models: ModelRegistry) -> None:
        self._db = db
        self._models = models
        self._jobs: dict[str, asyncio.Task[None]] = {}
        # app id -> (score threshold, or None when reply is off; monotonic expiry)
        self._thresholds: dict[str, tuple[float | None, float]] = {}
        # Every request in flight misses the cache together when it expires: one read.
        self._threshold_reads: SingleFlight[str, float | None] = SingleFlight()

    async def reply_enabled(self, app_id: str) -> bool:
        """Whether annotation reply is on for the app (cached like `match`'s check)."""
        return await self._reply_threshold(app_id) is not None

    async def _reply_threshold(self, app_id: str) -> float | None:
        now = time.monotonic()
        cached = self._thresholds.get(app_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        threshold = await self._threshold_reads.run(
            app_id, lambda: turns_repo.annotation_reply_threshold(self._db, app_id)
        )
        if len(self._thresholds) >= 10_000:
            self._thresholds.clear()  # bounded; refilled one read per app
        self._thresholds[app_id] = (threshold, now + REPLY_SETTING_TTL)
        return threshold

    # -- CRUD ------------------------------------------------------------------------

    async def list_page(
        self, app_id: str, *, page: int, limit: int, keyword: str | None
    ) -> NumberedPage[Annotation]:
        limit = min(max(limit, 1), MAX_LIMIT)
        async with self._db.session() as session:
            return await repo.list_annotations(
                session, app_id=app_id, page=max(page, 1), limit=limit, keyword=keyword or None
            )

    async def create(self, app_id: str, *, question: str, answer: str) -> Annotation:
        async with self._db.session() as session:
            annotation = await repo.create_annotation(
                session, app_id=app_id, question=question, answer=answer
            )
        await self._sync(app_id, annotation.id)
        return annotation

    async def update(
        self, app_id: str, annotation_id: str, *, question: str, answer: str
    ) -> Annotation:
        async with self._db.session() as session:
            annotation = await repo.update_annotation(
                session,
                app_id=app_id,
                annotation_id=annotation_id,
                question=question,
                answer=answer,
            )
        if annotation is None:
            raise NotFound("Annotation not found.")
        await self._sync(app_id, annotation.id)
        return annotation

    async def delete(self, app_id: str, annotation_id: str) -> None:
        """Its embedding and hit history go with it (ON DELETE CASCADE)."""
        async with self._db.session() as session:
            deleted = await repo.delete_annotation(
                session, app_id=app_id, annotation_id=annotation_id
            )
        if not deleted:
            raise NotFound("Annotation not found.")

    async def _sync(self, app_id: str, annotation_id: str) -> None:
        """Keep the index in step while reply is on (Dify queues the same as a task).

        A failing embedder does not fail the write; the next enable job re-embeds.
        """
        async with self._db.session() as session:
            setting = await repo.get_annotation_setting(session, app_id)
        if setting is None or not setting.enabled:
            return
        try:
            await self._reindex(app_id, [annotation_id])
        except Exception:
            log.exception("embedding annotation %s failed", annotation_id)

    # -- enable / disable jobs ---------------------------------------------------------

    async def start_job(
        self, app_id: str, action: Action, settings: ReplySettings | None
    ) -> AnnotationJob:
        """Queue an enable/disable job and start it; a job already under way is returned."""
        if action == "enable" and settings is None:
            raise InvalidRequest("score_threshold is required to enable annotation reply")
        async with self._db.session() as session:
            existing = await repo.unfinished_annotation_job(session, app_id=app_id, action=action)
            if existing is not None and existing.id in self._jobs:
                return existing
            job = await repo.create_annotation_job(session, app_id=app_id, action=action)
        task = asyncio.create_task(
            self._run_job(app_id, job.id, action, settings), name=f"annotation-{action}-{job.id}"
        )
        self._jobs[job.id] = task
        task.add_done_callback(lambda _: self._jobs.pop(job.id, None))
        return job

    async def job(self, app_id: str, action: str, job_id: str) -> AnnotationJob:
        async with self._db.session() as session:
            job = await repo.get_annotation_job(
                session, app_id=app_id, job_id=job_id, action=action
            )
        if job is None:
            raise InvalidRequest("The job does not exist.")
        return job

    async def _run_job(
        self, app_id: str, job_id: str, action: Action, settings: ReplySettings | None
    ) -> None:
        try:
            await self._set_status(job_id, "running")
            if action == "enable":
                assert settings is not None
                await self._reindex(app_id)
                async with self._db.session() as session:
                    await repo.save_annotation_setting(
                        session,
                        app_id=app_id,
                        enabled=True,
                        score_threshold=settings.score_threshold,
                        embedding_provider_name=settings.embedding_provider_name,
                        embedding_model_name=settings.embedding_model_name,
                    )
                # Annotations created while the first pass ran were not synced yet.
                await self._reindex(app_id)
            else:
                await self._disable(app_id)
            self._thresholds.pop(app_id, None)
            await self._set_status(job_id, "completed")
        except asyncio.CancelledError:
            await asyncio.shield(self._set_status(job_id, "failed", SHUTDOWN_ERROR))
            raise
        except Exception as exc:
            log.exception("annotation %s job %s failed", action, job_id)
            await self._set_status(job_id, "failed", str(exc) or type(exc).__name__)

    async def _disable(self, app_id: str) -> None:
        async with self._db.session() as session:
            setting = await repo.get_annotation_setting(session, app_id)
            if setting is not None:
                await repo.save_annotation_setting(
                    session,
                    app_id=app_id,
                    enabled=False,
                    score_threshold=setting.score_threshold,
                    embedding_provider_name=setting.embedding_provider_name,
                    embedding_model_name=setting.embedding_model_name,
                )
            await index_repo.delete_app_embeddings(session, app_id)

    async def _set_status(self, job_id: str, status: str, error: str = "") -> None:
        async with self._db.session() as session:
            await repo.set_annotation_job_status(session, job_id, status, error=error)

    async def _reindex(self, app_id: str, annotation_ids: Sequence[str] | None = None) -> None:
        """Embed every annotation (or these) whose stored vector is missing or stale."""
        embedder = self._models.embedder()
        model = embedder_key(embedder)
        async with self._db.session() as session:
            entries = await index_repo.index_entries(session, app_id, annotation_ids)
        todo = [e for e in entries if e.model != model or e.text_hash != _text_hash(e.question)]
        for start in range(0, len(todo), _BATCH):
            batch = todo[start : start + _BATCH]
            vectors = await embedder.embed([e.question for e in batch])
            rows = []
            for entry, vector in zip(batch, vectors, strict=True):
                array = np.asarray(vector, dtype="<f4")
                rows.append(
                    index_repo.NewEmbedding(
                        annotation_id=entry.annotation_id,
                        text_hash=_text_hash(entry.question),
                        vector=array.tobytes(),
                        dimensions=int(array.shape[0]),
                    )
                )
            async with self._db.session() as session:
                await index_repo.save_embeddings(
                    session, app_id=app_id, model=model, embeddings=rows
                )

    # -- reply -------------------------------------------------------------------------

    async def match(self, app_id: str, query: str) -> AnnotationMatch | None:
        """The best annotation for `query` if reply is on and it scores >= the threshold.

        The score is the cosine similarity of the query and the annotation's question.
        """
        if not query.strip():
            return None
        threshold = await self._reply_threshold(app_id)
        if threshold is None:
            return None
        async with self._db.session() as session:
            embedder = self._models.embedder()
            stored = await index_repo.load_vectors(
                session, app_id=app_id, model=embedder_key(embedder)
            )
        if not stored:
            return None
        query_vector = np.asarray((await embedder.embed([query]))[0], dtype=np.float32)
        stored = [s for s in stored if s.dimensions == query_vector.shape[0]]
        if not stored:
            return None
        matrix = np.stack([np.frombuffer(s.vector, dtype="<f4") for s in stored])
        scores = _normalised(matrix) @ _normalised(query_vector)
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score < threshold:
            return None
        async with self._db.session() as session:
            annotation = await repo.get_annotation(
                session, app_id=app_id, annotation_id=stored[best].annotation_id
            )
        if annotation is None:  # deleted since the vectors were read
            return None
        return AnnotationMatch(annotation.id, annotation.question, annotation.answer, score)

    async def record_hit(
        self,
        app_id: str,
        match: AnnotationMatch,
        *,
        query: str,
        message_id: str,
        end_user_id: str,
    ) -> None:
        """Count the hit and keep it in the hit history (Dify's `add_annotation_history`)."""
        async with self._db.session() as session:
            await repo.record_annotation_hit(
                session,
                annotation_id=match.id,
                app_id=app_id,
                question=query,
                score=match.score,
                message_id=message_id,
                end_user_id=end_user_id,
            )

    async def close(self) -> None:
        """Cancel running jobs; each marks itself failed on the way out."""
        tasks = list(self._jobs.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
