"""StaticEmbedder: the default local embedder (WordLlama's table), hash-checked at load."""

from __future__ import annotations

import asyncio
import hashlib
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from chatflow.errors import ProviderError
from chatflow.providers.embeddings import StaticEmbedder
from chatflow.providers.embeddings.static import (
    DIMENSIONS,
    PINNED_SHA256,
    TOKENIZER,
    WEIGHTS,
    package_dir,
)
from chatflow.providers.registry import build_registry
from chatflow.settings import Settings


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # vectors are unit length


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder()


def test_installed_files_are_the_pinned_ones() -> None:
    for name, digest in PINNED_SHA256.items():
        assert hashlib.sha256((package_dir() / name).read_bytes()).hexdigest() == digest


def _copy_model(tmp_path: Path) -> Path:
    root = tmp_path / "wordllama"
    for name in (WEIGHTS, TOKENIZER):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package_dir() / name, root / name)
    return root


async def test_a_changed_weights_file_is_refused_at_load(tmp_path: Path) -> None:
    root = _copy_model(tmp_path)
    # An exact copy loads and gives the installed model's vectors.
    assert np.allclose(
        await StaticEmbedder(root).embed(["refund policy"]),
        await StaticEmbedder().embed(["refund policy"]),
    )
    tampered = _copy_model(tmp_path / "tampered")
    data = bytearray((tampered / WEIGHTS).read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    (tampered / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ProviderError, match="refusing to load") as info:
        await StaticEmbedder(tampered).embed(["refund policy"])
    assert info.value.code == "provider_not_initialize"
    assert PINNED_SHA256[WEIGHTS] in str(info.value)


async def test_a_swapped_tokenizer_or_missing_file_is_refused(tmp_path: Path) -> None:
    swapped = _copy_model(tmp_path)
    (swapped / TOKENIZER).write_text('{"version": "1.0"}', encoding="utf-8")
    with pytest.raises(ProviderError, match="refusing to load"):
        StaticEmbedder(swapped).load()
    missing = _copy_model(tmp_path / "missing")
    (missing / WEIGHTS).unlink()
    with pytest.raises(ProviderError, match="Cannot read"):
        StaticEmbedder(missing).load()


async def test_paraphrases_score_higher_than_unrelated_sentences(
    embedder: StaticEmbedder,
) -> None:
    query, paraphrase, unrelated = await embedder.embed(
        [
            "How do I reset my password?",
            "how can I reset my password",
            "What is the capital of France?",
        ]
    )
    assert cosine(query, paraphrase) > 0.8
    assert cosine(query, unrelated) < 0.3


async def test_chinese_text_embeds_and_matches_its_paraphrase(embedder: StaticEmbedder) -> None:
    passage, query, other = await embedder.embed(
        ["退款会在十四天内退回到银行卡。", "退款多久能到银行卡", "博物馆每周一闭馆。"]
    )
    assert cosine(passage, query) > cosine(passage, other)


async def test_vectors_are_unit_length_deterministic_and_batch_independent(
    embedder: StaticEmbedder,
) -> None:
    texts = [
        "short",
        "A much longer sentence that needs many more tokens than the short ones do.",
        "naïve café — 東京 🙂",
        "",
    ]
    together = await embedder.embed(texts)
    alone = [(await embedder.embed([text]))[0] for text in texts]
    assert together == await embedder.embed(texts)
    for vector, single in zip(together[:3], alone[:3], strict=True):
        assert len(vector) == DIMENSIONS
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-5)
        assert np.allclose(vector, single, atol=1e-6)
    assert together[3] == [0.0] * DIMENSIONS  # nothing to embed: no direction
    assert await embedder.embed([]) == []
    small_batches = StaticEmbedder(batch_size=2)
    assert np.allclose(await small_batches.embed(texts), together, atol=1e-6)
    assert np.allclose(small_batches.embed_sync(texts), together, atol=1e-6)


async def test_the_event_loop_keeps_turning_while_embedding(embedder: StaticEmbedder) -> None:
    texts = [f"Sentence {i} about topic {i % 7}, with padding words." for i in range(4000)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    results = await asyncio.gather(*(embedder.embed(texts) for _ in range(2)))
    task.cancel()
    assert results[0] == results[1]
    assert ticks > 2  # batches ran on the worker thread, not on the loop


def test_registry_default_is_the_static_embedder() -> None:
    assert isinstance(build_registry(Settings(_env_file=None)).embedder(), StaticEmbedder)
