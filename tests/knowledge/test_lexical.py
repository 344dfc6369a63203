"""The full-text side: CJK tokenisation and normalised BM25."""

from __future__ import annotations

import numpy as np

from chatflow.knowledge.lexical import BM25Index, tokenize


def test_chinese_runs_become_characters_and_bigrams() -> None:
    assert tokenize("退款多久") == ["退", "款", "多", "久", "退款", "款多", "多久"]
    # Stop characters drop as unigrams but stay inside bigrams (they carry meaning there).
    assert tokenize("我的钱") == ["钱", "我的", "的钱"]
    # Mixed text: Latin words and CJK runs each tokenised their own way.
    assert tokenize("GPU服务器 Refunds") == ["gpu", "服", "务", "器", "服务", "务器", "refund"]
    assert tokenize("東京とカタカナ")[:2] == ["東", "京"]
    assert tokenize("한국어 텍스트") == [
        "한",
        "국",
        "어",
        "한국",
        "국어",
        "텍",
        "스",
        "트",
        "텍스",
        "스트",
    ]


def test_english_words_are_lower_cased_stemmed_and_stop_words_dropped() -> None:
    assert tokenize("The Refunds were PROCESSED") == ["refund", "were", "process"]
    assert tokenize("policies policy") == ["policy", "policy"]
    assert tokenize("a the of and") == []
    assert tokenize("") == [] and tokenize("!!! ... ---") == []


def test_bm25_scores_are_normalised_and_rank_by_term_weight() -> None:
    documents = [
        "refund policy for online orders",
        "shipping policy for online orders",
        "refund refund refund",
        "museum opening hours",
        "博物馆开放时间",
    ]
    index = BM25Index([tokenize(d) for d in documents])
    scores = index.scores("refund policy")
    assert scores.dtype == np.float32 and scores.shape == (5,)
    assert np.all((scores >= 0) & (scores <= 1))
    assert scores[0] > scores[1] > 0  # both words beat the common one alone
    assert scores[3] == 0 and scores[4] == 0
    assert int(np.argmax(index.scores("博物馆几点开门"))) == 4
    # Rarer words weigh more: "museum" (1 document) outscores "orders" (2 documents).
    mixed = index.scores("museum orders")
    assert mixed[3] > mixed[0]
    # A query of unknown words scores nothing; an empty index is fine.
    assert not index.scores("xylophone").any()
    assert BM25Index([]).scores("anything").shape == (0,)


def test_a_changed_index_scores_exactly_as_one_built_afresh() -> None:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(40)] + ["退款", "博物馆"]
    documents = [list(rng.choice(words, size=rng.integers(1, 12))) for _ in range(300)]
    index = BM25Index(documents[:200])
    live = list(range(200))
    # Twelve changes (more than the delta segments kept apart: some get merged).
    for step in range(12):
        removed = np.asarray(live[step::17][:3], dtype=np.int64)
        added = documents[200 + step * 8 : 208 + step * 8]
        before = index.scores("w1 w2 退款")
        index_next = index.changed(removed, added)
        assert np.array_equal(index.scores("w1 w2 退款"), before)  # the old one is unchanged
        index = index_next
        live = [r for r in live if r not in set(removed.tolist())]
        live += list(range(index.rows - len(added), index.rows))
        fresh = BM25Index([documents[r] for r in live])
        for query in ("w1 w2 退款", "w3", "博物馆 w39", "nothing"):
            changed = index.scores(query)
            assert not changed[np.setdiff1d(np.arange(index.rows), live)].any()
            assert np.allclose(changed[live], fresh.scores(query), atol=1e-6), (step, query)
    assert index.size == len(live)
