"""LocalEmbedder: the NumPy all-MiniLM-L6-v2 against published numbers, semantics, batching."""

from __future__ import annotations

import asyncio
import hashlib
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from chatflow.errors import ProviderError
from chatflow.providers.embeddings import LocalEmbedder, default_model_dir
from chatflow.providers.embeddings.local import MODEL_SHA256
from chatflow.providers.registry import build_registry
from chatflow.settings import Settings


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # vectors are unit length


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def test_shipped_weights_are_the_published_all_minilm_l6_v2() -> None:
    digest = hashlib.sha256((default_model_dir() / "model.safetensors").read_bytes())
    assert digest.hexdigest() == MODEL_SHA256


async def test_matches_sentence_transformers_published_similarities(
    embedder: LocalEmbedder,
) -> None:
    # The similarity matrix printed in sentence-transformers' README quickstart for this
    # model: equal to 4 decimals means the forward pass, pooling and tokenizer are right.
    a, b, c = await embedder.embed(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert cosine(a, b) == pytest.approx(0.6660, abs=5e-4)
    assert cosine(a, c) == pytest.approx(0.1046, abs=5e-4)
    assert cosine(b, c) == pytest.approx(0.1411, abs=5e-4)


async def test_paraphrases_score_higher_than_unrelated_sentences(embedder: LocalEmbedder) -> None:
    query, paraphrase, unrelated, shared_words = await embedder.embed(
        [
            "How do I reset my password?",
            "I forgot my login credentials and need to change them.",
            "What is the capital of France?",
            "How do I reset my router?",
        ]
    )
    assert cosine(query, paraphrase) > 0.5
    assert cosine(query, unrelated) < 0.2
    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.3
    # Semantic, not lexical: the paraphrase shares no content word, the router question does.
    assert cosine(query, paraphrase) > cosine(query, shared_words) - 0.1


async def test_vectors_are_unit_length_deterministic_and_batch_independent(
    embedder: LocalEmbedder,
) -> None:
    texts = [
        "short",
        "A much longer sentence that needs many more tokens, so the short ones get padded.",
        "",
        "   ",
        "naïve café — 東京 🙂",
    ]
    together = await embedder.embed(texts)
    alone = [(await embedder.embed([text]))[0] for text in texts]
    again = await embedder.embed(texts)
    assert together == again  # same input, same numbers
    for vector, single in zip(together, alone, strict=True):
        assert len(vector) == 384
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-5)
        # Padding in a batch must not leak into a text's vector (attention mask, pooling).
        assert np.allclose(vector, single, atol=1e-5)
    assert await embedder.embed([]) == []


async def test_long_input_is_truncated_and_order_is_kept() -> None:
    small_batches = LocalEmbedder(batch_size=2)
    long_text = "word " * 2000  # ~2000 tokens, far past the 256 the model takes
    texts = ["cats purr", long_text, "dogs bark"]
    vectors = await small_batches.embed(texts)
    reference = [(await small_batches.embed([text]))[0] for text in texts]
    assert np.allclose(vectors, reference, atol=1e-5)
    assert np.allclose(small_batches.embed_sync(texts), reference, atol=1e-5)


async def test_concurrent_calls_and_a_responsive_event_loop(embedder: LocalEmbedder) -> None:
    texts = [
        f"Sentence number {i} about topic {i % 7}, with some padding words." for i in range(64)
    ]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    results = await asyncio.gather(*(embedder.embed(texts) for _ in range(3)))
    task.cancel()
    assert results[0] == results[1] == results[2]
    assert ticks > 3  # the loop kept turning while batches ran on the worker thread


async def test_registry_local_backend_and_bad_model_folder(tmp_path: Path) -> None:
    default = build_registry(Settings(_env_file=None)).embedder()
    assert isinstance(default, LocalEmbedder)
    # Any sentence-transformers folder works: a copy of the shipped one gives the same vectors.
    copy = tmp_path / "minilm"
    shutil.copytree(default_model_dir(), copy)
    configured = build_registry(
        Settings(_env_file=None, embedding_backend="local", embedding_model=str(copy))
    ).embedder()
    assert isinstance(configured, LocalEmbedder) and configured.model_dir == copy.resolve()
    assert np.allclose(await configured.embed(["hello"]), await default.embed(["hello"]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProviderError) as info:
        await LocalEmbedder(tmp_path / "empty").embed(["hello"])
    assert info.value.code == "provider_not_initialize"
