"""Retrieval quality: recall@3 and MRR of each embedding candidate, BM25 alone and hybrid.

The evaluation set is tests/retrieval_eval/{en,zh}.tsv: each line is a passage and
two paraphrased queries that it answers (216 query -> passage pairs, a third of them in
Chinese). Every passage goes into one dataset of a real `ChunkIndex` on a temporary
SQLite database, and each query is searched as a Dify `retrieval_model` would ask;
a query scores when its own passage is in the top 3 (recall@3), and 1/rank of it in the
top 10 (MRR). Load time is a cold start in a fresh interpreter (import, hash check,
load, first vector); size is the model files on disk.

Usage: python -m bench.retrieval_quality
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chatflow.knowledge.index import ChunkIndex, IndexedChunk, RetrievalSettings
from chatflow.providers.base import Embedder
from chatflow.store import Database

DATA = Path(__file__).resolve().parent.parent / "tests" / "retrieval_eval"
DATASET = "eval"


@dataclass(frozen=True, slots=True)
class Pair:
    query: str
    passage: int
    lang: str


@dataclass(frozen=True, slots=True)
class EvalSet:
    passages: list[str]
    pairs: list[Pair]


def load_eval_set() -> EvalSet:
    passages: list[str] = []
    pairs: list[Pair] = []
    for lang in ("en", "zh"):
        path = DATA / f"{lang}.tsv"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            passage, *queries = line.split("\t")
            passages.append(passage)
            pairs.extend(Pair(q, len(passages) - 1, lang) for q in queries)
    return EvalSet(passages, pairs)


@dataclass(frozen=True, slots=True)
class Quality:
    recall_at_3: float
    mrr: float
    recall_at_3_en: float
    recall_at_3_zh: float
    n: int


async def evaluate(
    embedder: Embedder, settings: RetrievalSettings, eval_set: EvalSet | None = None
) -> Quality:
    """Index the passages with `embedder` and score every query under `settings`."""
    data = eval_set or load_eval_set()
    ranked = RetrievalSettings(
        search_method=settings.search_method,
        top_k=10,
        reranking_enable=settings.reranking_enable,
        reranking_mode=settings.reranking_mode,
        weights=settings.weights,
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/eval.db")
        await db.connect()
        try:
            index = ChunkIndex(db, embedder)
            await index.add(
                DATASET,
                [IndexedChunk(str(i), "doc", text) for i, text in enumerate(data.passages)],
            )
            hits3: dict[str, list[float]] = {"en": [], "zh": []}
            reciprocal: list[float] = []
            for pair in data.pairs:
                hits = await index.search(DATASET, pair.query, ranked)
                ids = [int(h.segment_id) for h in hits]
                rank = ids.index(pair.passage) + 1 if pair.passage in ids else 0
                hits3[pair.lang].append(1.0 if 0 < rank <= 3 else 0.0)
                reciprocal.append(1.0 / rank if rank else 0.0)
        finally:
            await db.close()
    everything = hits3["en"] + hits3["zh"]
    return Quality(
        recall_at_3=sum(everything) / len(everything),
        mrr=sum(reciprocal) / len(reciprocal),
        recall_at_3_en=sum(hits3["en"]) / max(len(hits3["en"]), 1),
        recall_at_3_zh=sum(hits3["zh"]) / max(len(hits3["zh"]), 1),
        n=len(everything),
    )


def cold_load_seconds(snippet: str) -> float:
    """Seconds a fresh interpreter takes to run `snippet` (import + load + one vector),
    minus the bare interpreter start."""

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    bare = min(run("pass") for _ in range(2))
    return min(run(snippet) for _ in range(2)) - bare


STATIC_LOAD = (
    "from chatflow.providers.embeddings.static import StaticEmbedder as E;"
    "E().embed_sync(['hello world'])"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    embedder: Callable[[], Embedder]
    settings: RetrievalSettings
    load_snippet: str | None
    size_mb: float | None
    note: str = ""


def candidates() -> list[Candidate]:
    from chatflow.providers.embeddings.static import TOKENIZER, WEIGHTS, StaticEmbedder, package_dir
    from chatflow.providers.fake import HashingEmbedder

    root = package_dir()
    static_mb = ((root / WEIGHTS).stat().st_size + (root / TOKENIZER).stat().st_size) / 1e6
    semantic = RetrievalSettings(search_method="semantic_search")
    return [
        Candidate(
            "wordllama l2_supercat 256-d (default)",
            StaticEmbedder,
            semantic,
            STATIC_LOAD,
            static_mb,
        ),
        Candidate(
            "hashed bag-of-words 256-d (`hashing`)",
            HashingEmbedder,
            semantic,
            "from chatflow.providers.fake import HashingEmbedder as E",
            0.0,
        ),
        Candidate(
            "BM25 alone (CJK bigrams, no model)",
            StaticEmbedder,
            RetrievalSettings(search_method="full_text_search"),
            None,
            0.0,
        ),
        Candidate(
            "hybrid: wordllama + BM25, Dify weights 0.7 / 0.3",
            StaticEmbedder,
            RetrievalSettings(search_method="hybrid_search"),
            STATIC_LOAD,
            static_mb,
        ),
        Candidate(
            "hybrid: wordllama + BM25, weights 0.5 / 0.5",
            StaticEmbedder,
            RetrievalSettings.from_dify(
                {
                    "search_method": "hybrid_search",
                    "weights": {
                        "vector_setting": {"vector_weight": 0.5},
                        "keyword_setting": {"keyword_weight": 0.5},
                    },
                }
            ),
            STATIC_LOAD,
            static_mb,
        ),
    ]


async def measure_all() -> list[tuple[Candidate, Quality, float | None]]:
    data = load_eval_set()
    results = []
    for candidate in candidates():
        quality = await evaluate(candidate.embedder(), candidate.settings, data)
        load = cold_load_seconds(candidate.load_snippet) if candidate.load_snippet else None
        results.append((candidate, quality, load))
    return results


def main() -> None:
    data = load_eval_set()
    zh = sum(1 for p in data.pairs if p.lang == "zh")
    print(f"{len(data.pairs)} pairs ({zh} Chinese), {len(data.passages)} passages")
    print("| candidate | recall@3 | MRR | recall@3 en | recall@3 zh | load | size |")
    for candidate, q, load in asyncio.run(measure_all()):
        load_text = f"{load:.2f} s" if load is not None else "-"
        size = f"{candidate.size_mb:.1f} MB" if candidate.size_mb is not None else "-"
        print(
            f"| {candidate.name} | {q.recall_at_3:.3f} | {q.mrr:.3f} | {q.recall_at_3_en:.3f} "
            f"| {q.recall_at_3_zh:.3f} | {load_text} | {size} |"
        )


if __name__ == "__main__":
    main()
