"""Nearest-neighbour search over one dataset's unit vectors.

Small datasets are scanned exactly (one BLAS mat-vec). Past `IVF_MIN_ROWS` a FAISS
inverted-file index (k-means cells, a few cells probed per query) answers instead: its
cost grows with about sqrt(n), not n (see bench/RESULTS.md for the measured curve and
the recall it keeps). Scores are cosine similarities; the exact vectors stay in memory,
so callers can score any row exactly (hybrid search needs the vector score of chunks
the keyword side found).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]


class VectorIndex:
    """Unit vectors (one row per chunk) and top-k search by cosine similarity."""

    def __init__(self, vectors: Vectors) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def size(self) -> int:
        return int(self.vectors.shape[0])

    def cosine(self, query: Vectors, rows: Rows) -> Vectors:
        """Exact similarity of `query` to the given rows."""
        out: Vectors = self.vectors[rows] @ query
        return out

    def search(
        self, query: Vectors, k: int, allowed: npt.NDArray[np.bool_] | None = None
    ) -> tuple[Rows, Vectors]:
        """The k most similar rows (restricted to `allowed` when given), best first."""
        if allowed is not None:
            candidates = np.flatnonzero(allowed).astype(np.int64)
            scores = self.cosine(query, candidates)
        else:
            candidates = np.arange(self.size, dtype=np.int64)
            scores = self.vectors @ query
        return _top(candidates, scores, k)


def _top(rows: Rows, scores: Vectors, k: int) -> tuple[Rows, Vectors]:
    if k <= 0 or rows.size == 0:
        return rows[:0], scores[:0]
    if k < rows.size:
        part = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[part], scores[part]
    order = np.argsort(-scores, kind="stable")
    return rows[order], scores[order]
