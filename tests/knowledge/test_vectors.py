"""VectorIndex: exact below the IVF threshold, FAISS IVF above it, filters honoured."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from chatflow.knowledge.vectors import VectorIndex


def clustered(n: int, dimensions: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dimensions)).astype(np.float32)
    points = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, dimensions))
    points = points.astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in np.argsort(-(vectors @ query), kind="stable")[:k]]


def test_exact_search_returns_the_true_top_k_in_order() -> None:
    vectors = clustered(500)
    index = VectorIndex(vectors)
    assert not index.indexed
    query = vectors[7]
    rows, scores = index.search(query, 5)
    assert rows.tolist() == exact_top(vectors, query, 5)
    assert rows[0] == 7 and abs(scores[0] - 1) < 1e-5
    assert np.all(np.diff(scores) <= 1e-7)
    assert np.allclose(index.cosine(query, rows), scores, atol=1e-5)
    assert index.search(query, 10_000)[0].size == 500


def test_ivf_keeps_recall_and_honours_filters() -> None:
    vectors = clustered(6000)
    index = VectorIndex(vectors, ivf_min_rows=1000)
    assert index.indexed
    rng = np.random.default_rng(1)
    queries = vectors[rng.integers(0, len(vectors), 50)] + 0.05 * rng.standard_normal((50, 64))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    found = sum(
        len(set(index.search(q, 10)[0].tolist()) & set(exact_top(vectors, q, 10))) for q in queries
    )
    assert found / 500 >= 0.95
    # A filter admitting many rows goes through the index with a selector...
    allowed = np.zeros(len(vectors), dtype=np.bool_)
    allowed[::2] = True
    rows, _ = index.search(queries[0], 10, allowed)
    assert rows.size == 10 and all(r % 2 == 0 for r in rows.tolist())
    # ... a selective one is scanned exactly.
    few = np.zeros(len(vectors), dtype=np.bool_)
    few[[3, 30, 300]] = True
    rows, _ = index.search(queries[0], 10, few)
    assert sorted(rows.tolist()) == [3, 30, 300]


def test_empty_index() -> None:
    index = VectorIndex(np.zeros((0, 8), dtype=np.float32))
    rows, scores = index.search(np.ones(8, dtype=np.float32), 3)
    assert rows.size == 0 and scores.size == 0


@pytest.mark.perf
def test_ivf_search_is_much_faster_than_an_exact_scan_at_60k() -> None:
    """Sub-linear: at 60k rows the IVF probes ~1/12 of the cells (measured ~10x faster);
    timed against the exact scan of the same vectors, interleaved, medians."""
    vectors = clustered(60_000, dimensions=256)
    indexed = VectorIndex(vectors)
    exact = VectorIndex(vectors, ivf_min_rows=10**9)
    assert indexed.indexed and not exact.indexed
    ivf_times, exact_times = [], []
    for query in vectors[:60]:
        started = time.perf_counter()
        indexed.search(query, 10)
        ivf_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        exact.search(query, 10)
        exact_times.append(time.perf_counter() - started)
    assert statistics.median(ivf_times) < 0.5 * statistics.median(exact_times)


@pytest.mark.parametrize("ivf_min_rows", [100_000, 1000], ids=["exact", "ivf"])
def test_changed_index_drops_removed_rows_and_finds_added_ones(ivf_min_rows: int) -> None:
    vectors = clustered(3000)
    index = VectorIndex(vectors[:2500], ivf_min_rows=ivf_min_rows)
    assert index.indexed == (ivf_min_rows == 1000)
    removed = np.arange(0, 2500, 5, dtype=np.int64)
    changed = index.changed(removed, vectors[2500:])
    assert changed.indexed == index.indexed  # IVF kept, not retrained
    assert (changed.rows, changed.size) == (3000, 3000 - removed.size)
    # The old index is untouched (a search holding it still sees its own generation).
    assert (index.rows, index.size) == (2500, 2500)
    assert index.search(vectors[0], 1)[0].tolist() == [0]
    for row in (2600, 2999, 1):
        assert changed.search(vectors[row], 1)[0].tolist() == [row]
    for row in (0, 5, 2495):
        rows, _ = changed.search(vectors[row], 50)
        assert not set(rows.tolist()) & set(removed.tolist())
        assert rows.size == 50
    # Filters and removals together: a filter naming only removed rows finds nothing.
    allowed = np.zeros(3000, np.bool_)
    allowed[removed] = True
    assert changed.search(vectors[0], 10, allowed)[0].size == 0
    allowed[2700] = True
    assert changed.search(vectors[0], 10, allowed)[0].tolist() == [2700]
    # Exact path: the same top-k as a scan of the live rows.
    if not changed.indexed:
        live = np.setdiff1d(np.arange(3000), removed)
        query = vectors[42]
        expected = live[np.argsort(-(vectors[live] @ query), kind="stable")[:10]]
        assert changed.search(query, 10)[0].tolist() == expected.tolist()


def test_indexes_sharing_one_ivf_see_only_their_own_rows() -> None:
    vectors = clustered(2600, seed=4)
    index = VectorIndex(vectors[:2000], ivf_min_rows=1000)
    # An index made and never used (a catch-up that failed after this step)...
    abandoned = index.changed(np.zeros(0, np.int64), vectors[2000:2300])
    assert abandoned.search(vectors[2100], 1)[0].tolist() == [2100]
    # ...then the one that is used, with other vectors under the same row numbers.
    used = index.changed(np.asarray([5], np.int64), vectors[2300:2600])
    for row, own in ((2000, 2300), (2299, 2599)):
        assert used.search(vectors[own], 1)[0].tolist() == [row]
        rows, scores = used.search(vectors[row], 5)  # the abandoned vector is gone
        assert not (rows == row).any() or scores[rows == row][0] < 0.999
    assert 5 not in used.search(vectors[5], 10)[0].tolist()
    # The first index still answers as it did: its rows only, row 5 included.
    assert index.search(vectors[5], 1)[0].tolist() == [5]
    assert index.search(vectors[2300], 10)[0].max() < 2000
    # Removed rows stay out of the searches of later indexes too.
    later = used.changed(np.asarray([6], np.int64), vectors[:1])
    assert not {5, 6} & set(later.search(vectors[5], 20)[0].tolist())
    assert sorted(later.search(vectors[0], 2)[0].tolist()) == [0, 2300]  # row 0, its copy
