"""Rerankers: score (query, passage) pairs after retrieval.

`Reranker` is what `ChunkIndex` calls when a retrieval asks for `reranking_model`.
`OpenAICompatReranker` speaks the `/rerank` endpoint that Jina, Cohere-compatible
gateways, vLLM, Xinference and LocalAI serve (`{model, query, documents}` ->
`{results: [{index, relevance_score}]}`), configured like the chat backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from chatflow.errors import ProviderError
from chatflow.settings import Settings


class Reranker(Protocol):
    async def rerank(
        self, query: str, documents: Sequence[str], model: str | None = None
    ) -> list[float]:
        """One relevance score in [0, 1] per document, in the documents' order. `model`:
        the retrieval's reranking model name, used when the reranker has none set."""
        ...


def build_reranker(settings: Settings) -> Reranker | None:
    """The configured reranker, or None (`rerank_backend = none`)."""
    if settings.rerank_backend != "openai":
        return None
    base_url = settings.rerank_base_url or settings.openai_base_url
    if not base_url:
        raise ProviderError(
            "rerank_backend is openai but neither CHATFLOW_RERANK_BASE_URL nor "
            "CHATFLOW_OPENAI_BASE_URL is set",
            code="provider_not_initialize",
        )
    return OpenAICompatReranker(
        base_url, settings.rerank_api_key or settings.openai_api_key, settings.rerank_model
    )


class OpenAICompatReranker:
    """A `/rerank` endpoint (base URL as for the chat backends, e.g. http://host/v1)."""

    def __init__(
        self, base_url: str, api_key: str | None, model: str | None, *, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout = timeout

    async def rerank(
        self, query: str, documents: Sequence[str], model: str | None = None
    ) -> list[float]:
        if not documents:
            return []
        name = self.model or model
        if not name:
            raise ProviderError(
                "No rerank model: set CHATFLOW_RERANK_MODEL or the retrieval's reranking_model",
                code="provider_not_initialize",
            )
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": name, "query": query, "documents": list(documents)}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(f"{self.base_url}/rerank", json=body, headers=headers)
                response.raise_for_status()
                payload: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError(f"Rerank request to {self.base_url} failed: {exc}") from exc
        scores = [0.0] * len(documents)
        try:
            for item in payload["results"]:
                index = int(item["index"])
                if 0 <= index < len(scores):
                    scores[index] = float(item.get("relevance_score", item.get("score", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"Rerank response from {self.base_url} is malformed") from exc
        return scores
