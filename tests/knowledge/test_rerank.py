"""Reranking: the OpenAI-compatible /rerank backend on a real loopback server, and
ChunkIndex using it for `reranking_mode = reranking_model`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatflow.errors import ProviderError
from chatflow.knowledge.index import ChunkIndex, IndexedChunk, RetrievalSettings
from chatflow.knowledge.rerank import OpenAICompatReranker, build_reranker
from chatflow.providers.embeddings import StaticEmbedder
from chatflow.settings import Settings
from chatflow.store import Database


class FakeRerankServer:
    """Scores a document by how many query words it contains (a reranker stand-in whose
    answers the test can predict), reversed when `reverse` is set."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[str | None] = []
        self.malformed = False

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/rerank", self.rerank, methods=["POST"])])

    async def rerank(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(request.headers.get("authorization"))
        if self.malformed:
            return JSONResponse({"data": []})
        words = set(body["query"].lower().split())
        results = [
            {"index": i, "relevance_score": len(words & set(d.lower().split())) / len(words)}
            for i, d in enumerate(body["documents"])
        ]
        results.sort(key=lambda r: -r["relevance_score"])
        return JSONResponse({"model": body["model"], "results": results})


@pytest.fixture
async def rerank_server() -> AsyncIterator[tuple[FakeRerankServer, str]]:
    fake = FakeRerankServer()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(fake.app(), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes only this flag)
        await asyncio.sleep(0.01)
    yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server.should_exit = True
    await task


async def test_rerank_request_and_scores(rerank_server: tuple[FakeRerankServer, str]) -> None:
    fake, base_url = rerank_server
    reranker = OpenAICompatReranker(base_url, "sk-test", None)
    scores = await reranker.rerank("red apple", ["a red car", "green apple", "red apple pie"], "m1")
    assert scores == [0.5, 0.5, 1.0]  # back in the documents' order, not the server's
    assert fake.requests[-1] == {
        "model": "m1",
        "query": "red apple",
        "documents": ["a red car", "green apple", "red apple pie"],
    }
    assert fake.headers[-1] == "Bearer sk-test"
    # A configured model name wins over the retrieval's.
    await OpenAICompatReranker(base_url, None, "fixed").rerank("q", ["d"], "m1")
    assert fake.requests[-1]["model"] == "fixed" and fake.headers[-1] is None
    assert await reranker.rerank("q", [], "m1") == []
    with pytest.raises(ProviderError, match="No rerank model"):
        await OpenAICompatReranker(base_url, None, None).rerank("q", ["d"])
    fake.malformed = True
    with pytest.raises(ProviderError, match="malformed"):
        await reranker.rerank("q", ["d"], "m1")


async def test_unreachable_rerank_server_is_a_provider_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ProviderError, match="failed"):
        await OpenAICompatReranker(f"http://127.0.0.1:{port}/v1", None, "m").rerank("q", ["d"])


async def test_chunk_index_reranks_with_the_model(
    rerank_server: tuple[FakeRerankServer, str], tmp_path: Path
) -> None:
    fake, base_url = rerank_server
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await db.connect()
    try:
        reranker = build_reranker(
            Settings(_env_file=None, rerank_backend="openai", rerank_base_url=base_url)
        )
        assert reranker is not None
        index = ChunkIndex(db, StaticEmbedder(), reranker=reranker)
        await index.add(
            "ds",
            [
                IndexedChunk("a", "d", "apples grow on trees in orchards"),
                IndexedChunk("b", "d", "red apple pie recipe with cinnamon"),
                IndexedChunk("c", "d", "the history of the red planet"),
            ],
        )
        rerank = RetrievalSettings.from_dify(
            {
                "search_method": "hybrid_search",
                "top_k": 3,
                "reranking_enable": True,
                "reranking_mode": "reranking_model",
                "reranking_model": {
                    "reranking_provider_name": "jina",
                    "reranking_model_name": "jina-reranker-v2",
                },
            }
        )
        hits = await index.search("ds", "red apple pie", rerank)
        assert [h.segment_id for h in hits][:2] == ["b", "c"]
        assert [h.score for h in hits][:2] == pytest.approx([1.0, 1 / 3], abs=1e-5)
        assert fake.requests[-1]["model"] == "jina-reranker-v2"
        # Reranking off: no request, the weighted score decides.
        before = len(fake.requests)
        await index.search("ds", "red apple pie", RetrievalSettings(search_method="hybrid_search"))
        assert len(fake.requests) == before
    finally:
        await db.close()


def test_build_reranker_from_settings() -> None:
    assert build_reranker(Settings(_env_file=None)) is None
    with pytest.raises(ProviderError, match="RERANK_BASE_URL"):
        build_reranker(Settings(_env_file=None, rerank_backend="openai"))
    fallback = build_reranker(
        Settings(
            _env_file=None,
            rerank_backend="openai",
            openai_base_url="http://h/v1",
            openai_api_key="k",
            rerank_model="bge-reranker",
        )
    )
    assert isinstance(fallback, OpenAICompatReranker)
    assert (fallback.base_url, fallback.api_key, fallback.model) == (
        "http://h/v1",
        "k",
        "bge-reranker",
    )
