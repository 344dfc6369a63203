"""knowledge-retrieval: the node turns Dify's options into one `RetrievalRequest`.

The knowledge base here is a recording stand-in (the real one is tested with real
datasets in tests/knowledge); the model is the fake one, scripted per test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import knowledge_retrieval
from chatflow.engine.nodes.base import (
    DatasetInfo,
    EngineServices,
    NodeContext,
    NodeResult,
    RetrievalRequest,
)
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError
from chatflow.providers.fake import FakeLLM, FakeRegistry

NODE = {  # admin-assistant-qc-kr.yml
    "type": "knowledge-retrieval",
    "title": "考勤知识库检索",
    "dataset_ids": ["ds-1"],
    "query_variable_selector": ["sys", "query"],
    "retrieval_mode": "multiple",
    "metadata_filtering_mode": "manual",
    "metadata_filtering_conditions": {
        "logical_operator": "and",
        "conditions": [
            {"comparison_operator": "is", "id": "c1", "name": "type", "value": "考勤"},
            {"comparison_operator": "is", "id": "c2", "name": "who", "value": "{{#sys.user_id#}}"},
        ],
    },
    "multiple_retrieval_config": {
        "reranking_enable": True,
        "reranking_mode": "weighted_score",
        "top_k": 4,
        "score_threshold": 0.5,
        "reranking_model": {"model": "m", "provider": "p"},
        "weights": {
            "vector_setting": {"vector_weight": 0.7},
            "keyword_setting": {"keyword_weight": 0.3},
        },
    },
}


class Knowledge:
    def __init__(self, datasets: Sequence[DatasetInfo] | None = None) -> None:
        self.requests: list[RetrievalRequest] = []
        self.resolved: list[tuple[str, list[str]]] = []
        self.datasets = datasets

    async def resolve(self, app_id: str, refs: Sequence[str]) -> list[DatasetInfo]:
        self.resolved.append((app_id, list(refs)))
        if self.datasets is not None:
            return list(self.datasets)
        return [DatasetInfo(ref=r, id=f"id-{r}", name=f"name-{r}") for r in refs]

    async def retrieve(self, request: RetrievalRequest) -> list[dict[str, Any]]:
        self.requests.append(request)
        return [{"content": f"about {request.query}", "title": "doc.md", "metadata": {}}]


def _ctx(knowledge: Knowledge | None, query: str = "请假流程", reply: str = "") -> NodeContext:
    services = EngineServices(
        models=FakeRegistry(FakeLLM([reply] if reply else ["x"])),
        limits=EngineLimits(),
        knowledge=knowledge,
    )
    pool = VariablePool(system={"query": query, "app_id": "app-1", "user_id": "ada"})
    return NodeContext("kr", pool, services)


async def test_multiple_mode_carries_every_option() -> None:
    knowledge = Knowledge()
    config = knowledge_retrieval.Config.model_validate(NODE)
    (result,) = [e async for e in knowledge_retrieval.run(_ctx(knowledge), config)]
    assert knowledge.resolved == [("app-1", ["ds-1"])]
    (request,) = knowledge.requests
    assert request.mode == "multiple" and request.query == "请假流程"
    assert [d.id for d in request.datasets] == ["id-ds-1"]
    assert (request.top_k, request.score_threshold) == (4, 0.5)
    assert request.reranking_enable and request.reranking_mode == "weighted_score"
    assert request.reranking_model == ("p", "m")
    assert request.weights == NODE["multiple_retrieval_config"]["weights"]  # type: ignore[index]
    # Manual conditions, with variable references in values rendered.
    assert request.metadata_filter == {
        "logical_operator": "and",
        "conditions": [
            {"name": "type", "comparison_operator": "is", "value": "考勤"},
            {"name": "who", "comparison_operator": "is", "value": "ada"},
        ],
    }
    assert isinstance(result, NodeResult)
    assert result.outputs["result"][0]["content"] == "about 请假流程"
    assert result.inputs == {"query": "请假流程"}


async def test_single_mode_routes_with_the_model() -> None:
    datasets = [
        DatasetInfo(ref="a", id="1", name="Recipes", description="cooking"),
        DatasetInfo(ref="b", id="2", name="Handbook", description="HR rules"),
    ]
    knowledge = Knowledge(datasets)
    config = knowledge_retrieval.Config.model_validate(
        {
            "type": "knowledge-retrieval",
            "dataset_ids": ["a", "b"],
            "query_variable_selector": ["sys", "query"],
            "retrieval_mode": "single",
            "single_retrieval_config": {"model": {"provider": "openai", "name": "gpt"}},
        }
    )
    [_ async for _ in knowledge_retrieval.run(_ctx(knowledge, "vacation days?", "2"), config)]
    (request,) = knowledge.requests
    assert request.mode == "single" and [d.id for d in request.datasets] == ["2"]
    assert request.top_k is None  # the dataset's own settings apply


async def test_automatic_metadata_filter_comes_from_the_model() -> None:
    datasets = [DatasetInfo(ref="a", id="1", name="kb", metadata_fields=(("type", "string"),))]
    knowledge = Knowledge(datasets)
    reply = (
        '{"metadata_map": [{"metadata_field_name": "type", "metadata_field_value": "社保", '
        '"comparison_operator": "is"}, {"metadata_field_name": "nope", '
        '"metadata_field_value": 1, "comparison_operator": "="}]}'
    )
    config = knowledge_retrieval.Config.model_validate(
        {
            "type": "knowledge-retrieval",
            "dataset_ids": ["a"],
            "query_variable_selector": ["sys", "query"],
            "metadata_filtering_mode": "automatic",
            "metadata_model_config": {"provider": "openai", "name": "gpt"},
        }
    )
    [_ async for _ in knowledge_retrieval.run(_ctx(knowledge, "社保比例", reply), config)]
    assert knowledge.requests[0].metadata_filter == {
        "logical_operator": "and",
        "conditions": [{"name": "type", "comparison_operator": "is", "value": "社保"}],
    }


async def test_failures_name_the_problem() -> None:
    config = knowledge_retrieval.Config.model_validate(NODE)
    with pytest.raises(NodeError, match=r"knowledge base is not configured \(datasets: ds-1\)"):
        [_ async for _ in knowledge_retrieval.run(_ctx(None), config)]
    with pytest.raises(NodeError, match="Query is required"):
        [_ async for _ in knowledge_retrieval.run(_ctx(Knowledge(), query=""), config)]
