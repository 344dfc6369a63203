"""build_registry: default backend, model_map precedence, provider-name normalisation, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatflow.errors import ProviderError
from chatflow.providers.base import LLMRequest
from chatflow.providers.embedded import EmbeddedEmbedder, EmbeddedLLM, default_model_path
from chatflow.providers.embeddings import StaticEmbedder
from chatflow.providers.fake import FakeLLM, HashingEmbedder
from chatflow.providers.openai_compat import OpenAICompatEmbedder, OpenAICompatLLM
from chatflow.providers.registry import (
    build_registry,
    load_model_map,
    normalize_provider,
    split_tokens,
)
from chatflow.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("langgenius/openai/openai", "openai"),
        ("openai", "openai"),
        ("OpenAI_API_Compatible", "openai_api_compatible"),
        ("langgenius/ollama/ollama/", "ollama"),
    ],
)
def test_normalize_provider(name: str, short: str) -> None:
    assert normalize_provider(name) == short


def test_default_backend_is_embedded_for_every_model() -> None:
    registry = build_registry(settings())
    llm = registry.llm("langgenius/openai/openai", "gpt-4o")
    assert isinstance(llm, EmbeddedLLM)
    assert llm.model_path == default_model_path()
    assert registry.llm("ollama", "llama3") is llm  # one shared backend instance
    assert isinstance(registry.embedder(), StaticEmbedder)


async def test_fake_backend_streams_configured_tokens() -> None:
    registry = build_registry(settings(model_backend="fake", fake_tokens="Hi  there, you"))
    llm = registry.llm("openai", "gpt-4o")
    assert isinstance(llm, FakeLLM) and llm.model == "gpt-4o"
    assert llm.tokens == ("Hi", "  there,", " you")


def test_split_tokens_joins_back() -> None:
    text = "Hello! This is  a reply ."
    assert "".join(split_tokens(text)) == text


def test_model_map_precedence_exact_then_provider_then_star() -> None:
    model_map = {
        "openai/gpt-4o": {"backend": "openai", "model": "served-4o"},
        "openai/*": {"backend": "fake"},
        "*": {"backend": "openai", "base_url": "http://other:9/v1", "api_key": "k2"},
    }
    registry = build_registry(
        settings(
            model_map=json.dumps(model_map),
            openai_base_url="http://default:8/v1",
            openai_api_key="k1",
        )
    )
    exact = registry.llm("langgenius/openai/openai", "gpt-4o")
    assert isinstance(exact, OpenAICompatLLM) and exact.model == "served-4o"
    assert isinstance(registry.llm("openai", "gpt-4o-mini"), FakeLLM)
    other = registry.llm("anthropic", "claude")
    assert isinstance(other, OpenAICompatLLM)
    assert other.model == "claude"  # no model in the entry and no openai_model: DSL name
    assert other is registry.llm("anthropic", "claude")
    assert other is not registry.llm("anthropic", "claude-2")


def test_openai_model_setting_overrides_dsl_name() -> None:
    registry = build_registry(
        settings(model_backend="openai", openai_base_url="http://x/v1", openai_model="llama3.2")
    )
    assert registry.llm("openai", "gpt-4o").model == "llama3.2"


def test_model_map_from_file_matches_full_and_short_provider_names(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    model_map = {
        "langgenius/ollama/ollama/*": {"backend": "fake", "model": "full"},
        "ollama/*": {"backend": "fake", "model": "short"},
        "openai/org/model-a": {"backend": "fake"},
    }
    path.write_text(json.dumps(model_map))
    assert set(load_model_map(str(path))) == set(model_map)
    registry = build_registry(settings(model_map=str(path)))
    assert registry.llm("langgenius/ollama/ollama", "qwen").model == "full"
    assert registry.llm("Ollama", "qwen").model == "short"
    assert registry.llm("someone/ollama/ollama", "qwen").model == "short"
    assert isinstance(registry.llm("langgenius/openai/openai", "org/model-a"), FakeLLM)
    assert isinstance(registry.llm("openai", "qwen"), EmbeddedLLM)


def test_embedded_entry_model_is_a_gguf_path(tmp_path: Path) -> None:
    gguf = str(tmp_path / "other.gguf")
    registry = build_registry(
        settings(model_map=json.dumps({"*": {"backend": "embedded", "model": gguf}}))
    )
    llm = registry.llm("openai", "gpt-4o")
    assert isinstance(llm, EmbeddedLLM) and llm.model_path == gguf


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"model_backend": "bedrock"}, "Unknown model backend 'bedrock'"),
        ({"model_map": '{"*": {"backend": "vertex"}}'}, "Unknown model backend 'vertex'"),
        ({"model_backend": "openai"}, "needs a base_url"),
        ({"model_map": "{not json"}, "not valid JSON"),
        ({"model_map": "[1]"}, "Cannot read"),
        ({"model_map": '{"*": {"model": "x"}}'}, "needs a 'backend'"),
        ({"model_map": '{"*": {"backend": "fake", "url": "x"}}'}, "unknown keys"),
        ({"embedding_backend": "word2vec"}, "Unknown embedding backend"),
    ],
)
def test_bad_configuration_fails_at_build(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ProviderError, match=message) as info:
        build_registry(settings(**values))
    assert info.value.code == "provider_not_initialize"


def test_embedding_backends() -> None:
    hashing = build_registry(settings(embedding_backend="hashing")).embedder()
    assert isinstance(hashing, HashingEmbedder)
    embedded = build_registry(settings(embedding_backend="embedded")).embedder()
    assert isinstance(embedded, EmbeddedEmbedder)
    openai = build_registry(
        settings(embedding_backend="openai", openai_base_url="http://x/v1", embedding_model="e5")
    ).embedder()
    assert isinstance(openai, OpenAICompatEmbedder) and openai.model == "e5"
    with pytest.raises(ProviderError, match="CHATFLOW_OPENAI_BASE_URL"):
        build_registry(settings(embedding_backend="openai")).embedder()
    # Embeddings may live on another server than the chat models (like Dify's providers).
    separate = build_registry(
        settings(
            embedding_backend="openai",
            openai_base_url="http://chat/v1",
            embedding_base_url="http://embed/v1",
            embedding_api_key="k2",
        )
    ).embedder()
    assert isinstance(separate, OpenAICompatEmbedder)
    assert separate._clients.base_url == "http://embed/v1"
    with pytest.raises(ProviderError, match="one model"):
        build_registry(settings(embedding_model="/some/folder")).embedder()


async def test_missing_gguf_is_a_provider_error(tmp_path: Path) -> None:
    llm = EmbeddedLLM(str(tmp_path / "missing.gguf"))
    with pytest.raises(ProviderError, match="not found") as info:
        async for _ in llm.stream(LLMRequest(messages=[])):
            pass
    assert info.value.code == "provider_not_initialize"
