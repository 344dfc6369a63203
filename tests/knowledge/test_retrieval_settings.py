"""RetrievalSettings.from_dify: every shape Dify writes a retrieval_model in."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.knowledge.index import RerankingModel, RetrievalSettings, Weights


def test_defaults_are_difys() -> None:
    assert RetrievalSettings.from_dify(None) == RetrievalSettings.from_dify({})
    default = RetrievalSettings.from_dify({})
    assert default.search_method == "semantic_search"
    assert default.top_k == 2
    assert not default.score_threshold_enabled
    assert not default.reranking_enable
    assert default.weights is None and default.reranking_model is None


def test_a_dataset_retrieval_model() -> None:
    # As the Knowledge API's dataset create/update and /retrieve bodies carry it.
    settings = RetrievalSettings.from_dify(
        {
            "search_method": "hybrid_search",
            "reranking_enable": True,
            "reranking_mode": "reranking_model",
            "reranking_model": {
                "reranking_provider_name": "cohere",
                "reranking_model_name": "rerank-english-v2.0",
            },
            "weights": {
                "weight_type": "customized",
                "vector_setting": {
                    "vector_weight": 0.6,
                    "embedding_provider_name": "openai",
                    "embedding_model_name": "text-embedding-3-small",
                },
                "keyword_setting": {"keyword_weight": 0.4},
            },
            "top_k": 5,
            "score_threshold_enabled": True,
            "score_threshold": 0.35,
        }
    )
    assert settings == RetrievalSettings(
        search_method="hybrid_search",
        top_k=5,
        score_threshold_enabled=True,
        score_threshold=0.35,
        reranking_enable=True,
        reranking_mode="reranking_model",
        weights=Weights(0.6, 0.4),
        reranking_model=RerankingModel("cohere", "rerank-english-v2.0"),
    )


def test_a_workflow_nodes_multiple_retrieval_config() -> None:
    # knowledge-retrieval nodes write reranking_model as {provider, model} and may give
    # null for score_threshold.
    settings = RetrievalSettings.from_dify(
        {
            "top_k": 4,
            "score_threshold": None,
            "reranking_enable": False,
            "reranking_mode": "weighted_score",
            "reranking_model": {"provider": "langgenius/jina/jina", "model": "jina-reranker"},
        }
    )
    assert settings.top_k == 4 and settings.score_threshold == 0.0
    assert settings.reranking_model == RerankingModel("langgenius/jina/jina", "jina-reranker")
    assert RetrievalSettings.from_dify({"reranking_model": {"provider": "", "model": ""}}) == (
        RetrievalSettings()
    )
    assert RetrievalSettings.from_dify({"top_k": "3"}).top_k == 3


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"search_method": "vector"}, "search_method"),
        ({"reranking_mode": "best"}, "reranking_mode"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_k": "many"}, "top_k"),
        ({"top_k": True}, "top_k"),
        ({"score_threshold": "nan"}, "score_threshold"),
        ({"score_threshold": [1]}, "score_threshold"),
        ({"weights": "heavy"}, "weights"),
        ({"weights": {"vector_setting": 1}}, "vector_setting"),
        ({"weights": {"vector_setting": {"vector_weight": -1}}}, "vector_weight"),
        ({"reranking_model": "cohere"}, "reranking_model"),
    ],
)
def test_bad_values_raise_value_error(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetrievalSettings.from_dify(raw)
    with pytest.raises(ValueError, match="object"):
        RetrievalSettings.from_dify([1])  # type: ignore[arg-type]
