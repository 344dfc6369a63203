"""The retrieval engine: what the knowledge service indexes segments into and searches.

`ChunkIndex` keeps every chunk (text, keywords, embedding, full-text terms) in the
database (`chunk_store`: the same tables on SQLite and Postgres) and answers searches
from an in-memory snapshot per dataset: a vector index (`vectors.VectorIndex`: an exact
scan, FAISS IVF past 20k chunks) and a BM25 index with CJK tokenisation
(`lexical.BM25Index`). A generation number per dataset, raised in the transaction of
every change, tells each worker when its snapshot is stale, and every process sees the
others' writes. A stale snapshot is brought up to date incrementally: the rows written
and the segments removed since its generation are read in one statement (one consistent
state of the database, so a search never sees half of a transaction: half a document)
and applied to a copy (removed rows masked out, new rows appended to the vector index
and as a BM25 delta segment) on a worker thread; searches already under way keep the
snapshot they started with. It is rebuilt in full from the rows (at 100k chunks that takes seconds:
bench/RESULTS.md) when it is first loaded, when the changes since its last full build
pass a quarter of it, and when it is too far behind to catch up.

Why not sqlite-vec / pgvector: CPython builds without `enable_load_extension` (this
project's pyenv build; python.org's macOS builds) cannot load any SQLite extension, and
Debian 12 (bookworm, this project's Postgres 15) has no pgvector package; an
in-process index works the same on both databases, gives the same scores on both, and
is measured against a brute-force NumPy scan in `make bench`.

Search follows Dify's `retrieval_model`: semantic (cosine), full-text / keyword (BM25),
hybrid (union of both candidate lists, then `vector_weight * cosine + keyword_weight *
bm25`, Dify's weighted score), optional reranking by a reranker model, `top_k`,
`score_threshold` and a `document_ids` filter. Scores are in [0, 1].
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from chatflow.knowledge import chunk_store
from chatflow.knowledge.lexical import TERMS_VERSION, BM25Index, Matches, index_terms
from chatflow.knowledge.rerank import Reranker
from chatflow.knowledge.vectors import IVF_MIN_ROWS, VectorIndex
from chatflow.providers.base import Embedder
from chatflow.store.db import Database

SearchMethod = Literal["semantic_search", "full_text_search", "hybrid_search", "keyword_search"]
RerankingMode = Literal["reranking_model", "weighted_score"]
SEARCH_METHODS: tuple[SearchMethod, ...] = (
    "semantic_search",
    "full_text_search",
    "hybrid_search",
    "keyword_search",
)
# Candidates each side contributes before fusion/reranking: enough that the weighted
# score, not the single-side cut, decides the final order.
_MIN_CANDIDATES = 50
# Snapshots kept in memory (least recently searched dataset goes first).
_MAX_SNAPSHOTS = 32
_EMBED_BATCH = 256


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    segment_id: str
    document_id: str
    text: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    segment_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Weights:
    vector_weight: float = 0.7
    keyword_weight: float = 0.3


@dataclass(frozen=True, slots=True)
class RerankingModel:
    provider: str = ""
    model: str = ""


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    """Dify's `retrieval_model` (dataset setting, `/retrieve` body, node config)."""

    search_method: SearchMethod = "semantic_search"
    top_k: int = 2
    score_threshold_enabled: bool = False
    score_threshold: float = 0.0
    reranking_enable: bool = False
    reranking_mode: RerankingMode = "weighted_score"
    weights: Weights | None = None
    reranking_model: RerankingModel | None = None

    @classmethod
    def from_dify(cls, raw: Mapping[str, Any] | None) -> RetrievalSettings:
        """Parse Dify's object; missing keys take Dify's defaults. Raises ValueError on a
        value of the wrong kind (the caller answers 400 `invalid_param`)."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError("retrieval_model must be an object")
        method = raw.get("search_method") or "semantic_search"
        if method not in SEARCH_METHODS:
            raise ValueError(f"search_method must be one of {', '.join(SEARCH_METHODS)}")
        mode = raw.get("reranking_mode") or "weighted_score"
        if mode not in ("reranking_model", "weighted_score"):
            raise ValueError("reranking_mode must be reranking_model or weighted_score")
        top_k = _number(raw.get("top_k"), "top_k", 2)
        if top_k != int(top_k) or not 1 <= top_k <= 100:
            raise ValueError("top_k must be an integer between 1 and 100")
        threshold = _number(raw.get("score_threshold"), "score_threshold", 0.0)
        return cls(
            search_method=cast(SearchMethod, method),
            top_k=int(top_k),
            score_threshold_enabled=bool(raw.get("score_threshold_enabled") or False),
            score_threshold=float(threshold),
            reranking_enable=bool(raw.get("reranking_enable") or False),
            reranking_mode=cast(RerankingMode, mode),
            weights=_weights(raw.get("weights")),
            reranking_model=_reranking_model(raw.get("reranking_model")),
        )


def _number(value: Any, name: str, default: float) -> float:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} must be a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number") from exc
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a number")
    return number


def _weights(raw: Any) -> Weights | None:
    """Dify writes `{vector_setting: {vector_weight}, keyword_setting: {keyword_weight}}`."""
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError("weights must be an object")
    vector = raw.get("vector_setting") or {}
    keyword = raw.get("keyword_setting") or {}
    if not isinstance(vector, Mapping) or not isinstance(keyword, Mapping):
        raise ValueError("weights.vector_setting and weights.keyword_setting must be objects")
    v = _number(vector.get("vector_weight", raw.get("vector_weight")), "vector_weight", 0.7)
    k = _number(keyword.get("keyword_weight", raw.get("keyword_weight")), "keyword_weight", 0.3)
    if v < 0 or k < 0 or v + k <= 0:
        raise ValueError("vector_weight and keyword_weight must be >= 0 and not both 0")
    return Weights(vector_weight=v, keyword_weight=k)


def _reranking_model(raw: Any) -> RerankingModel | None:
    """Datasets write reranking_provider_name/_model_name, workflow nodes provider/model."""
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError("reranking_model must be an object")
    provider = raw.get("reranking_provider_name") or raw.get("provider") or ""
    model = raw.get("reranking_model_name") or raw.get("model") or ""
    if not provider and not model:
        return None
    return RerankingModel(provider=str(provider), model=str(model))


def embedder_key(embedder: Embedder) -> str:
    """Names the embedder that made a vector; vectors of another embedder are remade."""
    named = getattr(embedder, "key", None)
    if isinstance(named, str) and named:
        return named[:255]
    kind = type(embedder)
    model = getattr(embedder, "model", None) or getattr(embedder, "model_dir", None) or ""
    return f"{kind.__module__}.{kind.__qualname__}:{model}"[:255]


def _unit(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    out: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


# A snapshot is rebuilt in full once the rows changed since its last full build pass
# this share of it (removed rows still cost scan time, and the IVF cells were trained
# on the old rows), or this many rows on a small dataset (where a rebuild is cheap).
_REBUILD_SHARE = 0.25
_REBUILD_MIN_ROWS = 4096


@dataclass(slots=True)
class _Snapshot:
    """One dataset as of one generation, ready to search; never changed once built
    (`_apply` makes the next one), so a search holding it sees one generation."""

    generation: int
    segment_ids: list[str]  # by row; a removed row keeps its id but is never found
    document_ids: list[str]  # by row
    texts: list[str]  # by row
    rows_of: dict[str, int]  # live segment id -> row
    document_rows: dict[str, npt.NDArray[np.int64]]  # live rows of each document
    vectors: VectorIndex
    lexical: BM25Index
    built_rows: int  # rows at the last full build
    changed_rows: int = 0  # rows removed or added since

    def allowed(self, document_ids: Collection[str]) -> npt.NDArray[np.bool_]:
        mask = np.zeros(len(self.segment_ids), dtype=np.bool_)
        for document_id in document_ids:
            rows = self.document_rows.get(document_id)
            if rows is not None:
                mask[rows] = True
        return mask


def _matrix(vectors: Sequence[bytes]) -> npt.NDArray[np.float32]:
    count = len(vectors)
    blob = b"".join(vectors)
    dimensions = len(blob) // 4 // count if count else 0
    return np.frombuffer(blob, dtype=np.float32).reshape(count, dimensions)


def _build_snapshot(generation: int, chunks: chunk_store.StoredChunks) -> _Snapshot:
    """CPU work of a full build (runs on a worker thread)."""
    by_document: dict[str, list[int]] = {}
    for row, document_id in enumerate(chunks.document_ids):
        by_document.setdefault(document_id, []).append(row)
    return _Snapshot(
        generation=generation,
        segment_ids=chunks.segment_ids,
        document_ids=chunks.document_ids,
        texts=chunks.contents,
        rows_of={s: row for row, s in enumerate(chunks.segment_ids)},
        document_rows={d: np.asarray(r, dtype=np.int64) for d, r in by_document.items()},
        vectors=VectorIndex(_matrix(chunks.vectors)),
        lexical=BM25Index([t.split() for t in chunks.terms]),
        built_rows=len(chunks.ids),
    )


def _removed_rows(old: _Snapshot, changes: chunk_store.Changes) -> npt.NDArray[np.int64]:
    """Rows of `old` that the changes remove or replace."""
    gone = {*changes.removed, *changes.written.segment_ids}
    rows = [old.rows_of[s] for s in gone if s in old.rows_of]
    return np.asarray(sorted(rows), dtype=np.int64)


def _catches_up(old: _Snapshot, changes: chunk_store.Changes) -> bool:
    """Whether applying `changes` to `old` beats a full build (and is possible)."""
    if changes.floor > old.generation:
        return False  # removals it would need were pruned, or the dataset was dropped
    written = len(changes.written.ids)
    changed = old.changed_rows + written + len(_removed_rows(old, changes))
    if changed > max(_REBUILD_SHARE * old.built_rows, _REBUILD_MIN_ROWS):
        return False
    # Crossing into IVF territory: the first IVF index is trained by a full build.
    return old.vectors.indexed or old.vectors.size + written < IVF_MIN_ROWS


def _apply(old: _Snapshot, changes: chunk_store.Changes) -> _Snapshot:
    """The next snapshot: `old` with the changes' rows removed and written (worker thread)."""
    written = changes.written
    removed = _removed_rows(old, changes)
    start = len(old.segment_ids)
    rows_of = dict(old.rows_of)
    for row in removed:
        del rows_of[old.segment_ids[row]]
    new_rows: dict[str, list[int]] = {}
    for offset, (segment_id, document_id) in enumerate(
        zip(written.segment_ids, written.document_ids, strict=True)
    ):
        rows_of[segment_id] = start + offset
        new_rows.setdefault(document_id, []).append(start + offset)
    document_rows = dict(old.document_rows)
    for document_id in {old.document_ids[r] for r in removed} | new_rows.keys():
        kept = document_rows.get(document_id, np.zeros(0, np.int64))
        kept = kept[~np.isin(kept, removed)]
        rows = np.concatenate([kept, np.asarray(new_rows.get(document_id, []), np.int64)])
        if rows.size:
            document_rows[document_id] = rows
        else:
            document_rows.pop(document_id, None)
    return _Snapshot(
        generation=changes.generation,
        segment_ids=old.segment_ids + written.segment_ids,
        document_ids=old.document_ids + written.document_ids,
        texts=old.texts + written.contents,
        rows_of=rows_of,
        document_rows=document_rows,
        vectors=old.vectors.changed(removed, _matrix(written.vectors)),
        lexical=old.lexical.changed(removed, [t.split() for t in written.terms]),
        built_rows=old.built_rows,
        changed_rows=old.changed_rows + len(removed) + len(written.ids),
    )


def _terms_of(chunks: Sequence[IndexedChunk]) -> list[str]:
    return [index_terms(c.text, c.keywords) for c in chunks]


@dataclass(slots=True)
class _Scored:
    rows: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]


class ChunkIndex:
    """Vector + full-text index of dataset chunks, on the app's database.

    `embedder` makes every vector (documents at `add`, the query at `search`); chunks
    embedded by another embedder (a changed setting) are re-embedded when their dataset
    is next loaded. `reranker` serves `reranking_mode = reranking_model`; without one,
    such a retrieval falls back to the weighted score (logged nowhere, documented here).
    """

    def __init__(
        self, db: Database, embedder: Embedder, *, reranker: Reranker | None = None
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.reranker = reranker
        self.model = embedder_key(embedder)
        self._schema_ready = False
        self._snapshots: OrderedDict[str, _Snapshot] = OrderedDict()
        self._loading: dict[str, asyncio.Lock] = {}
        # How snapshots were made: "full" builds and "incremental" catch-ups.
        self.builds: dict[str, int] = {"full": 0, "incremental": 0}

    async def _ensure_schema(self) -> None:
        if not self._schema_ready:
            async with self.db.engine.begin() as conn:
                await chunk_store.ensure_schema(conn)
            self._schema_ready = True

    async def _embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        # Embedders that can hand back an array (the local one) skip the list round trip.
        as_array = getattr(self.embedder, "embed_array", None)
        parts = []
        for start in range(0, len(texts), _EMBED_BATCH):
            batch = list(texts[start : start + _EMBED_BATCH])
            vectors = await (as_array(batch) if as_array else self.embedder.embed(batch))
            parts.append(np.asarray(vectors, dtype=np.float32))
        return _unit(np.concatenate(parts)) if parts else np.zeros((0, 0), np.float32)

    async def add(self, dataset_id: str, chunks: Sequence[IndexedChunk]) -> None:
        """Index (or re-index, by segment id) chunks; all or none become searchable."""
        if not chunks:
            return
        await self._ensure_schema()
        vectors = await self._embed([c.text for c in chunks])
        terms = await asyncio.to_thread(_terms_of, chunks)
        rows = [
            chunk_store.NewChunk(
                segment_id=c.segment_id,
                document_id=c.document_id,
                content=c.text,
                keywords=tuple(c.keywords),
                model=self.model,
                vector=vector.tobytes(),
                terms=chunk_terms,
                terms_version=TERMS_VERSION,
            )
            for c, vector, chunk_terms in zip(chunks, vectors, terms, strict=True)
        ]
        async with self.db.engine.begin() as conn:
            generation = await chunk_store.bump_generation(conn, dataset_id)
            await chunk_store.upsert(conn, dataset_id, rows, generation)

    async def remove(self, dataset_id: str, segment_ids: Collection[str]) -> None:
        if not segment_ids:
            return
        await self._ensure_schema()
        async with self.db.engine.begin() as conn:
            generation = await chunk_store.bump_generation(conn, dataset_id)
            await chunk_store.delete(conn, dataset_id, segment_ids)
            await chunk_store.record_removals(conn, dataset_id, segment_ids, generation)

    async def drop_dataset(self, dataset_id: str) -> None:
        await self._ensure_schema()
        async with self.db.engine.begin() as conn:
            generation = await chunk_store.bump_generation(conn, dataset_id)
            await chunk_store.drop(conn, dataset_id, generation)
        self._snapshots.pop(dataset_id, None)

    async def _snapshot(self, dataset_id: str) -> _Snapshot:
        """The dataset's current snapshot: caught up or rebuilt when its generation moved on."""
        await self._ensure_schema()
        lock = self._loading.setdefault(dataset_id, asyncio.Lock())
        async with lock:
            current = await chunk_store.generation(self.db, dataset_id)
            cached = self._snapshots.get(dataset_id)
            if cached is not None and cached.generation == current:
                self._snapshots.move_to_end(dataset_id)
                return cached
            snapshot = await self._caught_up(cached, dataset_id) if cached else None
            if snapshot is None:
                chunks = await chunk_store.load(self.db, dataset_id)
                await self._refresh(chunks)
                snapshot = await asyncio.to_thread(_build_snapshot, current, chunks)
                self.builds["full"] += 1
            self._snapshots[dataset_id] = snapshot
            self._snapshots.move_to_end(dataset_id)
            while len(self._snapshots) > _MAX_SNAPSHOTS:
                self._snapshots.popitem(last=False)
            return snapshot

    async def _caught_up(self, cached: _Snapshot, dataset_id: str) -> _Snapshot | None:
        """`cached` with the changes since its generation applied; None when a full build
        is due instead."""
        changes = await chunk_store.changes(self.db, dataset_id, cached.generation)
        if not _catches_up(cached, changes):
            return None
        await self._refresh(changes.written)
        snapshot = await asyncio.to_thread(_apply, cached, changes)
        self.builds["incremental"] += 1
        return snapshot

    async def _refresh(self, chunks: chunk_store.StoredChunks) -> None:
        """Remake, in place and in the database, the vectors another embedder made and the
        terms another tokenizer version made. No generation bump: the rows' content is
        unchanged, only derived data."""
        stale = [i for i, model in enumerate(chunks.models) if model != self.model]
        vectors: list[tuple[int, bytes]] = []
        if stale:
            made = await self._embed([chunks.contents[i] for i in stale])
            for i, vector in zip(stale, made, strict=True):
                chunks.vectors[i] = vector.tobytes()
                chunks.models[i] = self.model
                vectors.append((chunks.ids[i], chunks.vectors[i]))
        old = [i for i, v in enumerate(chunks.terms_versions) if v != TERMS_VERSION]
        terms: list[tuple[int, str]] = []
        for i in old:
            keywords = json.loads(chunks.keywords[i])
            chunks.terms[i] = index_terms(chunks.contents[i], keywords)
            chunks.terms_versions[i] = TERMS_VERSION
            terms.append((chunks.ids[i], chunks.terms[i]))
        if vectors or terms:
            async with self.db.engine.begin() as conn:
                await chunk_store.replace_vectors(conn, self.model, vectors)
                await chunk_store.replace_terms(conn, TERMS_VERSION, terms)

    async def search(
        self,
        dataset_id: str,
        query: str,
        settings: RetrievalSettings,
        document_ids: Collection[str] | None = None,
    ) -> list[Hit]:
        """Best chunks for `query`, best first, at most `settings.top_k`."""
        if not query.strip():
            return []
        snapshot = await self._snapshot(dataset_id)
        if snapshot.vectors.size == 0:
            return []
        allowed = None if document_ids is None else snapshot.allowed(document_ids)
        if allowed is not None and not allowed.any():
            return []
        method = settings.search_method
        want = max(settings.top_k * 4, _MIN_CANDIDATES)
        use_vectors = method in ("semantic_search", "hybrid_search")
        use_keywords = method != "semantic_search"
        weighted = method == "hybrid_search" or (
            settings.reranking_enable and settings.reranking_mode == "weighted_score"
        )
        query_vector = (await self._embed([query]))[0] if use_vectors or weighted else None
        keyword_scores = snapshot.lexical.search(query) if use_keywords or weighted else None

        candidates: list[npt.NDArray[np.int64]] = []
        if use_vectors and query_vector is not None:
            rows, _ = snapshot.vectors.search(query_vector, want, allowed)
            candidates.append(rows)
        if use_keywords and keyword_scores is not None:
            candidates.append(_top_keyword(keyword_scores, want, allowed))
        rows = np.unique(np.concatenate(candidates)) if candidates else np.zeros(0, np.int64)
        if rows.size == 0:
            return []

        scored = self._score(snapshot, rows, settings, query_vector, keyword_scores, weighted)
        if (
            settings.reranking_enable
            and settings.reranking_mode == "reranking_model"
            and self.reranker is not None
        ):
            name = settings.reranking_model.model if settings.reranking_model else None
            scored = await self._rerank(snapshot, query, scored, want, name)
        return _finish(snapshot, scored, settings)

    def _score(
        self,
        snapshot: _Snapshot,
        rows: npt.NDArray[np.int64],
        settings: RetrievalSettings,
        query_vector: npt.NDArray[np.float32] | None,
        keyword_scores: Matches | None,
        weighted: bool,
    ) -> _Scored:
        vector = (
            np.clip(snapshot.vectors.cosine(query_vector, rows), 0.0, 1.0)
            if query_vector is not None
            else None
        )
        keyword = keyword_scores.score_of(rows) if keyword_scores is not None else None
        scores: npt.NDArray[np.floating[Any]]
        if weighted and vector is not None and keyword is not None:
            w = settings.weights or Weights()
            total = w.vector_weight + w.keyword_weight
            scores = (w.vector_weight * vector + w.keyword_weight * keyword) / total
        elif vector is not None and settings.search_method == "semantic_search":
            scores = vector
        elif keyword is not None:
            scores = keyword
        else:
            scores = vector if vector is not None else np.zeros(rows.size, np.float32)
        return _Scored(rows, np.asarray(scores, dtype=np.float32))

    async def _rerank(
        self, snapshot: _Snapshot, query: str, scored: _Scored, want: int, model: str | None
    ) -> _Scored:
        assert self.reranker is not None
        order = np.argsort(-scored.scores, kind="stable")[:want]
        rows = scored.rows[order]
        scores = await self.reranker.rerank(query, [snapshot.texts[int(r)] for r in rows], model)
        return _Scored(rows, np.clip(np.asarray(scores, dtype=np.float32), 0.0, 1.0))


def _top_keyword(
    matches: Matches, k: int, allowed: npt.NDArray[np.bool_] | None
) -> npt.NDArray[np.int64]:
    rows, scores = matches.rows, matches.scores
    if allowed is not None:
        admitted = allowed[rows]
        rows, scores = rows[admitted], scores[admitted]
    if rows.size > k:
        rows = rows[np.argpartition(-scores, k - 1)[:k]]
    return rows


def _finish(snapshot: _Snapshot, scored: _Scored, settings: RetrievalSettings) -> list[Hit]:
    order = np.argsort(-scored.scores, kind="stable")
    hits: list[Hit] = []
    for i in order:
        score = float(scored.scores[i])
        if settings.score_threshold_enabled and score < settings.score_threshold:
            break
        hits.append(Hit(snapshot.segment_ids[int(scored.rows[i])], round(score, 6)))
        if len(hits) >= settings.top_k:
            break
    return hits


__all__ = [
    "ChunkIndex",
    "Hit",
    "IndexedChunk",
    "RerankingModel",
    "RetrievalSettings",
    "SearchMethod",
    "Weights",
    "embedder_key",
]
