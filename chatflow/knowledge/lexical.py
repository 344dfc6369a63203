"""Full-text side of retrieval: a tokenizer that handles CJK, and an in-memory BM25 index.

Tokens: Latin/Cyrillic/digit runs become lower-cased words; a run of CJK ideographs (or
kana/hangul) becomes its single characters plus its overlapping bigrams. Chinese has no
spaces, so whole-run tokens would never match a paraphrase; unigrams+bigrams is the
dictionary-free scheme Lucene's CJKAnalyzer and Elasticsearch's `cjk_bigram` use, and on
our evaluation set it finds the passage of most Chinese queries without a word list
(jieba would add a 20 MB dictionary and a slow first load). English words get a light
suffix strip so "refunds" meets "refund".

`BM25Index` holds one dataset's postings as NumPy arrays: a query touches only the
postings of its own terms. Scores are normalised to [0, 1] by the query's total IDF
(a chunk holding every query term once, at average length, scores 1.0), so they mix
with cosine similarities under Dify's keyword weight.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, filterfalse

import numpy as np
import numpy.typing as npt

# CJK Unified Ideographs (+ext A, compatibility), Hiragana, Katakana, Hangul syllables.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)", re.UNICODE)
# Function words that carry no topic; a short list, as stop-lists beyond this hurt recall.
_STOP = frozenset(
    "a an and are as at be by can do does for from how i in is it its me my of on or our "
    "so that the this to was we what when where which who why will with you your "
    "的 了 是 在 和 我 你 吗 呢 吧 啊 么 怎 什".split()
)
_K1 = 1.2
_B = 0.75


def _stem(word: str) -> str:
    """A light English suffix strip (plural/-ing/-ed); enough to pair word forms."""
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ied"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


# word -> its term ("" for a stop word); words repeat so much that this pays for itself.
_TERMS: dict[str, str] = {}
_TERMS_MAX = 200_000


def _term(word: str) -> str:
    term = "" if word in _STOP else _stem(word)
    if len(_TERMS) < _TERMS_MAX:
        _TERMS[word] = term
    return term


def tokenize(text: str) -> list[str]:
    """Index terms of `text` (duplicates kept: their counts are term frequencies)."""
    terms: list[str] = []
    lookup = _TERMS.get
    for cjk, word in _TOKEN.findall(text.lower()):
        if cjk:
            terms.extend(filterfalse(_STOP.__contains__, cjk))
            terms.extend(map(str.__add__, cjk, cjk[1:]))  # overlapping bigrams
        else:
            term = lookup(word)
            if term is None:
                term = _term(word)
            if term:
                terms.append(term)
    return terms


# Raised whenever `tokenize` changes what it makes: stored terms of another version are
# made again when their dataset loads.
TERMS_VERSION = 1


def index_terms(text: str, keywords: Sequence[str] = ()) -> str:
    """The stored form of a chunk's terms: its text's and keywords' tokens, space-joined
    (no token holds a space)."""
    terms = tokenize(text)
    if keywords:
        terms += tokenize(" ".join(keywords))
    return " ".join(terms)


class _Postings:
    """The postings of some documents (rows `offset`... of the index), immutable once built."""

    def __init__(self, documents: Sequence[Sequence[str]], offset: int, *, keep: bool) -> None:
        # Delta segments keep their documents, to be merged; the base never is.
        self.documents: Sequence[Sequence[str]] = documents if keep else ()
        count = len(documents)
        self.lengths = np.fromiter(map(len, documents), dtype=np.int64, count=count)
        # Term ids by C-level loops (dict.fromkeys, map): millions of tokens at 100k chunks.
        vocabulary = {t: i for i, t in enumerate(dict.fromkeys(chain.from_iterable(documents)))}
        term_ids = np.fromiter(
            map(vocabulary.__getitem__, chain.from_iterable(documents)),
            dtype=np.int64,
            count=int(self.lengths.sum()),
        )
        # Postings in one sorted array: (term, document) pairs counted by np.unique, so
        # building takes a sort instead of a Python loop per posting.
        rows = np.repeat(np.arange(count, dtype=np.int64), self.lengths)
        keys = term_ids * max(count, 1) + rows
        pairs, counts = np.unique(keys, return_counts=True)
        self.rows = (pairs % max(count, 1) + offset).astype(np.int32)
        self.tf = counts.astype(np.float32)
        self.starts = np.searchsorted(
            pairs // max(count, 1), np.arange(len(vocabulary) + 1, dtype=np.int64)
        )
        self.vocabulary = vocabulary
        self.offset = offset

    def postings(self, term: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]] | None:
        term_id = self.vocabulary.get(term)
        if term_id is None:
            return None
        start, end = self.starts[term_id], self.starts[term_id + 1]
        return self.rows[start:end], self.tf[start:end]


# Delta segments past this many are merged into one (a query visits every segment).
_MAX_DELTA_SEGMENTS = 8


class BM25Index:
    """BM25 over documents numbered by row; immutable: `changed` makes a new index.

    The documents of the first build form the base segment; documents added later go in
    small delta segments, and removed rows are masked out (`live`). Statistics (document
    count, average length, document frequencies) count live rows only, so scores equal
    those of an index built afresh from the live documents."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        self._segments: tuple[_Postings, ...] = (_Postings(documents, 0, keep=False),)
        self._lengths = self._segments[0].lengths
        self._live: npt.NDArray[np.bool_] | None = None  # None: every row is live
        self._finish()

    def _finish(self) -> None:
        self.rows = int(self._lengths.size)
        live_lengths = self._lengths if self._live is None else self._lengths[self._live]
        self.size = int(live_lengths.size)  # live documents
        average = float(live_lengths.mean()) if self.size else 0.0
        # Per-document length normalisation, folded once: k1 * (1 - b + b * dl / avgdl).
        self._norm = (_K1 * (1.0 - _B + _B * self._lengths / max(average, 1e-9))).astype(np.float32)

    def changed(self, removed: npt.NDArray[np.int64], added: Sequence[Sequence[str]]) -> BM25Index:
        """A new index: rows `removed` masked out, `added` appended as rows
        `self.rows`, `self.rows + 1`, ... (this index is left as it is)."""
        out = BM25Index.__new__(BM25Index)
        live = np.ones(self.rows, np.bool_) if self._live is None else self._live.copy()
        live[removed] = False
        segments = list(self._segments)
        if added:
            segments.append(_Postings(added, self.rows, keep=True))
            live = np.concatenate([live, np.ones(len(added), np.bool_)])
        if len(segments) > 1 + _MAX_DELTA_SEGMENTS:
            deltas = segments[1:]
            merged = list(chain.from_iterable(d.documents for d in deltas))
            segments = [segments[0], _Postings(merged, deltas[0].offset, keep=True)]
        out._segments = tuple(segments)
        out._lengths = np.concatenate([s.lengths for s in segments])
        out._live = None if live.all() else live
        out._finish()
        return out

    def _idf(self, document_frequency: int) -> float:
        # Lucene's BM25 IDF: always positive, so a term in most chunks still counts a little.
        return math.log(1.0 + (self.size - document_frequency + 0.5) / (document_frequency + 0.5))

    def _postings(self, term: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]] | None:
        """The live rows holding `term` and its frequency in each."""
        found = [p for p in (s.postings(term) for s in self._segments) if p is not None]
        if not found:
            return None
        if len(found) == 1:
            rows, tf = found[0]
        else:
            rows = np.concatenate([r for r, _ in found])
            tf = np.concatenate([t for _, t in found])
        if self._live is not None:
            keep = self._live[rows]
            rows, tf = rows[keep], tf[keep]
        return (rows, tf) if rows.size else None

    def search(self, query: str) -> Matches:
        """The documents sharing a term with `query` and their normalised BM25 scores.
        Sparse: only the query terms' postings are touched, never an array per document,
        which kept a hybrid search's cache footprint (and time) small at 100k chunks."""
        parts_rows: list[npt.NDArray[np.int32]] = []
        parts_scores: list[npt.NDArray[np.float32]] = []
        total_idf = 0.0
        for term in set(tokenize(query)):
            postings = self._postings(term)
            if postings is None:
                # An unseen term still counts in the normaliser: a query half made of
                # words the corpus lacks cannot score a full match.
                total_idf += self._idf(0)
                continue
            rows, tf = postings
            idf = self._idf(len(rows))
            total_idf += idf
            parts_rows.append(rows)
            parts_scores.append(idf * tf * (_K1 + 1.0) / (tf + self._norm[rows]))
        if not parts_rows:
            return Matches(np.zeros(0, np.int64), np.zeros(0, np.float32))
        rows, where = np.unique(np.concatenate(parts_rows), return_inverse=True)
        sums = np.bincount(where, weights=np.concatenate(parts_scores)).astype(np.float32)
        sums /= np.float32(total_idf)
        np.minimum(sums, 1.0, out=sums)
        return Matches(rows.astype(np.int64), sums)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """Normalised BM25 score of every row for `query` (0 where no term matches)."""
        out = np.zeros(self.rows, dtype=np.float32)
        matches = self.search(query)
        out[matches.rows] = matches.scores
        return out


@dataclass(frozen=True, slots=True)
class Matches:
    """Documents (ascending row numbers) and their scores."""

    rows: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]

    def score_of(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Scores of the given rows (0 for rows that did not match)."""
        if self.rows.size == 0:
            return np.zeros(rows.size, np.float32)
        at = np.minimum(np.searchsorted(self.rows, rows), self.rows.size - 1)
        out: npt.NDArray[np.float32] = np.where(self.rows[at] == rows, self.scores[at], 0.0)
        return out.astype(np.float32)
