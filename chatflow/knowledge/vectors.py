"""Nearest-neighbour search over one dataset's unit vectors.

Small datasets are scanned exactly (one BLAS mat-vec). Past `IVF_MIN_ROWS` a FAISS
(MIT, Meta) inverted-file index answers instead: k-means cells, a few cells probed per
query, so its cost grows with about sqrt(n), not n (bench/RESULTS.md has the measured
curve and the recall it keeps against the exact scan). Scores are cosine similarities;
the exact vectors stay in memory, so callers can score any row exactly (hybrid search
needs the vector score of chunks the keyword side found).

A `VectorIndex` never changes: `changed` makes the next one (rows removed are masked
out, rows added are appended). The IVF index is not copied for that (a copy of 100k
vectors took 0.3 s): the indexes made from one full build share it, rows are only ever
added to it (under their row numbers, never retrained), and each index searches it
through a selector of the rows it knows (below its row count, not removed by it). A
small index with removed rows scans a flat FAISS index through the same kind of selector.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]

# Below this many rows an exact scan takes well under a millisecond or two: no index.
IVF_MIN_ROWS = 20_000
# Cells: sqrt(n); probed per query: 1/12 of them, which kept recall@10 against the
# exact scan at 0.996 on the bench's 100k corpus (bench/retrieval.py measures it each
# run; 2 sqrt(n) cells cost 3x the build time for the same recall and speed).
CELLS_PER_SQRT_N = 1.0
PROBE_FRACTION = 1 / 12
MIN_PROBES = 8
# k-means trains on a sample: faiss needs ~40 points per cell, more only costs time;
# 10 iterations instead of faiss's 25 halved the build at the same recall.
TRAIN_POINTS_PER_CELL = 40
KMEANS_ITERATIONS = 10
# One thread: a query is a handful of small scans (threads cost more than they save), and
# building on one thread measured faster here than two sharing a busy machine.
faiss.omp_set_num_threads(1)


class _SharedIVF:
    """An IVF index shared by the `VectorIndex`es of one full build. Rows are only added;
    the lock keeps an add (on a worker thread) apart from searches (on the loop)."""

    def __init__(self, ivf: Any, rows: int) -> None:
        self.ivf = ivf
        self.rows = rows  # row numbers 0..rows-1 are in the index
        self.lock = threading.Lock()

    def extend(self, start: int, vectors: Vectors) -> None:
        """Put `vectors` in as rows start, start+1, ... Rows from `start` on that an
        abandoned index added earlier are taken out first, so no row is in twice."""
        with self.lock:
            if self.rows > start:
                self.ivf.remove_ids(faiss.IDSelectorRange(start, self.rows))
            ids = np.arange(start, start + len(vectors), dtype=np.int64)
            self.ivf.add_with_ids(vectors, ids)
            self.rows = start + len(vectors)


class VectorIndex:
    """Unit vectors (one row per chunk) and top-k search by cosine similarity."""

    def __init__(self, vectors: Vectors, *, ivf_min_rows: int = IVF_MIN_ROWS) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._ivf: _SharedIVF | None = None
        self._probes = 0
        self._ivf_min_rows = ivf_min_rows
        self._live: npt.NDArray[np.bool_] | None = None  # None: every row is live
        self._dead = 0
        self._visible: list[Any] = []  # this index's rows in the shared IVF: selectors
        # Small indexes with removed rows: an exact flat index searched through the same
        # selector (fetching k + removed rows and dropping them cost 2-3x the scan).
        self._flat: Any = None
        if self.size >= ivf_min_rows and self.vectors.shape[1] > 0:
            self._build_ivf()
            self._select_visible()

    def _select_visible(self) -> None:
        """The selector of the rows this index knows (faiss holds raw pointers only: the
        list keeps every selector in a chain alive)."""
        below = faiss.IDSelectorRange(0, self.rows)
        if self._live is None:
            self._visible = [below]
            return
        dead = faiss.IDSelectorBatch(np.flatnonzero(~self._live).astype(np.int64))
        alive = faiss.IDSelectorNot(dead)
        self._visible = [faiss.IDSelectorAnd(below, alive), below, dead, alive]

    def changed(self, removed: Rows, added: Vectors) -> VectorIndex:
        """A new index: rows `removed` gone, `added` appended as rows `self.rows`, ..."""
        out = VectorIndex.__new__(VectorIndex)
        out._ivf_min_rows, out._probes = self._ivf_min_rows, self._probes
        added = np.ascontiguousarray(added, dtype=np.float32)
        if not len(added):
            out.vectors = self.vectors  # never written to: sharing is safe
        elif self.rows == 0:
            out.vectors = added
        else:
            out.vectors = np.concatenate([self.vectors, added])
        live = np.ones(self.rows, np.bool_) if self._live is None else self._live.copy()
        live[removed] = False
        live = np.concatenate([live, np.ones(len(added), np.bool_)])
        out._dead = int(live.size - np.count_nonzero(live))
        out._live = None if out._dead == 0 else live
        out._ivf = self._ivf
        out._visible = []
        out._flat = None
        if out._ivf is not None:
            if len(added):
                out._ivf.extend(self.rows, added)
            out._select_visible()
        elif out._live is not None and out.vectors.shape[1] > 0:
            out._flat = faiss.IndexFlatIP(out.vectors.shape[1])
            out._flat.add(out.vectors)
            out._select_visible()
        return out

    def _build_ivf(self) -> None:
        n, dimensions = self.vectors.shape
        cells = max(1, int(CELLS_PER_SQRT_N * math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(dimensions)
        ivf = faiss.IndexIVFFlat(quantizer, dimensions, cells, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.niter = KMEANS_ITERATIONS
        # Seeded sample: the same data gives the same index (and the same results).
        sample = np.random.default_rng(0).choice(
            n, size=min(n, cells * TRAIN_POINTS_PER_CELL), replace=False
        )
        ivf.train(self.vectors[np.sort(sample)])
        ivf.add(self.vectors)
        self._ivf = _SharedIVF(ivf, n)
        self._probes = max(MIN_PROBES, int(cells * PROBE_FRACTION))

    @property
    def indexed(self) -> bool:
        """Whether searches go through the IVF index (else an exact scan)."""
        return self._ivf is not None

    @property
    def rows(self) -> int:
        """Row numbers in use, removed rows included."""
        return int(self.vectors.shape[0])

    @property
    def size(self) -> int:
        """Live rows."""
        return self.rows - self._dead

    def cosine(self, query: Vectors, rows: Rows) -> Vectors:
        """Exact similarity of `query` to the given rows (a few hundred at most: summed
        products, not a BLAS mat-vec, whose threads cost more than the work here)."""
        out: Vectors = np.einsum("ij,j->i", self.vectors[rows], query, optimize=False)
        return out

    def search(
        self, query: Vectors, k: int, allowed: npt.NDArray[np.bool_] | None = None
    ) -> tuple[Rows, Vectors]:
        """The k most similar rows (restricted to `allowed` when given), best first."""
        if self.size == 0 or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if allowed is not None and self._live is not None:
            allowed = allowed & self._live
        if self._ivf is not None:
            admitted = None if allowed is None else np.flatnonzero(allowed).astype(np.int64)
            # A selective filter leaves few rows: scanning those exactly is cheaper and exact.
            if admitted is None or admitted.size >= self._ivf_min_rows:
                return self._search_ivf(query, k, admitted)
        if allowed is None and self._flat is not None:
            # Removed rows are still in the matrix: the flat index skips them.
            params: Any = faiss.SearchParameters()
            params.sel = self._visible[0]
            scores, found = self._flat.search(
                query.reshape(1, -1), min(k, self.size), params=params
            )
            kept = found[0] >= 0
            return found[0][kept].astype(np.int64), scores[0][kept].astype(np.float32)
        if allowed is None:
            return _exact(self.vectors, query, k)
        candidates = np.flatnonzero(allowed).astype(np.int64)
        rows, scores = _exact(self.vectors[candidates], query, k)
        return candidates[rows], scores

    def _search_ivf(self, query: Vectors, k: int, admitted: Rows | None) -> tuple[Rows, Vectors]:
        assert self._ivf is not None
        params: Any = faiss.SearchParametersIVF()
        params.nprobe = self._probes
        # Kept referenced until the search returns: faiss holds only a raw pointer.
        # `admitted` rows are live rows of this index already.
        selector = self._visible[0] if admitted is None else faiss.IDSelectorBatch(admitted)
        params.sel = selector
        with self._ivf.lock:
            scores, rows = self._ivf.ivf.search(
                query.reshape(1, -1), min(k, self.size), params=params
            )
        found = rows[0] >= 0  # fewer than k in the probed cells: faiss pads with -1
        return rows[0][found].astype(np.int64), scores[0][found].astype(np.float32)


def _exact(vectors: Vectors, query: Vectors, k: int) -> tuple[Rows, Vectors]:
    """Exact top-k by inner product. faiss's single-query kernel (SIMD, one thread), not
    `vectors @ query`: NumPy's BLAS mat-vec spreads over threads, which on a busy machine
    measured 20-50x slower at 10k rows (bench/RESULTS.md shows both)."""
    k = min(k, int(vectors.shape[0]))
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    scores, rows = faiss.knn(query.reshape(1, -1), vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    return rows[0].astype(np.int64), scores[0].astype(np.float32)
