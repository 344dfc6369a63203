"""`StaticEmbedder`: WordLlama's static token embeddings, offline, hash-checked at load.

The default embedder of annotation reply and knowledge retrieval. WordLlama (Lee Miller,
MIT licence, github.com/dleemiller/WordLlama) ships its weights inside the PyPI wheel:
a 32,000 x 256 float16 token-embedding table distilled from LLM input embeddings
(16 MB) and its tokenizer. A sentence vector is the mean of its tokens' rows, L2
normalised: no transformer pass, so embedding is a table lookup (tens of thousands of
chunks per second) and loading takes well under a second. Chosen by measurement on
tests/retrieval_eval/*.tsv (bench/RESULTS.md has the table).

Only the package's data files are read (the package is never imported: its import sets
up logging and loads Cython helpers we do not need). Both files must match the SHA-256
pinned here; a mismatch refuses to load, so a tampered or swapped wheel never embeds.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from chatflow.errors import ProviderError

PACKAGE = "wordllama"
WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
# SHA-256 of the files in wordllama 0.4.0.post1's wheels (identical for every Python).
PINNED_SHA256 = {
    WEIGHTS: "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
    TOKENIZER: "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68",
}
MODEL_NAME = "wordllama-l2-supercat-256"
DIMENSIONS = 256
# Tokens of one text that count; past this a text is long enough that its mean is stable.
MAX_TOKENS = 8192
# Inputs this small are embedded on the calling thread (see `embed_array`).
_INLINE_CHARS = 2000

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatflow-embed")
_lock = threading.Lock()
_loaded: dict[Path, _Table] = {}


def _not_initialized(message: str) -> ProviderError:
    return ProviderError(message, code="provider_not_initialize")


@functools.cache
def package_dir() -> Path:
    """The installed wordllama folder (found, not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise _not_initialized(
            "The embedding model is not installed: install chatflow-server's dependencies "
            "(the wordllama package), or set CHATFLOW_EMBEDDING_BACKEND=openai"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def verify(path: Path, expected: str) -> None:
    """Raise unless `path`'s SHA-256 is `expected`."""
    try:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise _not_initialized(f"Cannot read embedding model file {path}: {exc}") from exc
    if digest != expected:
        raise _not_initialized(
            f"Embedding model file {path} has SHA-256 {digest}, expected {expected}: "
            "refusing to load it (reinstall wordllama from PyPI)"
        )


@dataclass(frozen=True, slots=True)
class _Table:
    tokenizer: Tokenizer
    rows: npt.NDArray[np.float32]  # (vocabulary, 256)

    @classmethod
    def load(cls, root: Path, pins: dict[str, str]) -> _Table:
        for name, digest in pins.items():
            verify(root / name, digest)
        try:
            tensors = load_file(str(root / WEIGHTS))
            tokenizer = Tokenizer.from_file(str(root / TOKENIZER))
        except (OSError, ValueError, Exception) as exc:  # safetensors/tokenizers raise their own
            raise _not_initialized(f"Cannot load embedding model from {root}: {exc}") from exc
        rows = np.ascontiguousarray(tensors["embedding.weight"], dtype=np.float32)
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return cls(tokenizer, rows)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Mean of each text's token rows, L2-normalised (an empty text gives zeros)."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        out = np.zeros((len(texts), self.rows.shape[1]), dtype=np.float32)
        top = self.rows.shape[0] - 1
        for row, encoding in enumerate(encodings):
            ids = np.asarray(encoding.ids[:MAX_TOKENS], dtype=np.int64)
            if ids.size:
                out[row] = self.rows[np.clip(ids, 0, top)].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        result: npt.NDArray[np.float32] = out / np.maximum(norms, 1e-12)
        return result


def _load(root: Path, pins: dict[str, str]) -> _Table:
    with _lock:
        table = _loaded.get(root)
        if table is None:
            table = _loaded[root] = _Table.load(root, pins)
        return table


class StaticEmbedder:
    """256-dimensional sentence vectors from WordLlama's token table (loaded on first use)."""

    model = MODEL_NAME
    key = f"{PACKAGE}:{MODEL_NAME}:{PINNED_SHA256[WEIGHTS][:16]}"
    dimensions = DIMENSIONS

    def __init__(self, root: Path | None = None, *, batch_size: int = 512) -> None:
        """`root`: a folder laid out like the wordllama package (tests); default the
        installed package. The pinned hashes apply either way."""
        self.root = root
        self.batch_size = batch_size

    def _table(self) -> _Table:
        return _load(self.root or package_dir(), PINNED_SHA256)

    def load(self) -> None:
        """Load (and hash-check) now rather than on the first `embed`."""
        self._table()

    def embed_sync(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Blocking form of `embed`, for callers already on a worker thread."""
        table = self._table()
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        parts = [
            table.embed(texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts)

    async def embed_array(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """`embed` as one float32 array (no Python lists: bulk indexing uses this)."""
        table = _loaded.get(self.root or package_dir())
        if table is not None and len(texts) <= 4 and sum(map(len, texts)) <= _INLINE_CHARS:
            # A search query: a table lookup of microseconds, cheaper than the thread hop.
            return table.embed(texts)
        loop = asyncio.get_running_loop()
        table = await loop.run_in_executor(_executor, self._table)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # One executor job per batch, so a huge request cannot hold the worker for long.
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out[start : start + len(batch)] = await loop.run_in_executor(
                _executor, table.embed, batch
            )
        return out

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors: list[list[float]] = (await self.embed_array(texts)).tolist()
        return vectors
