"""knowledge-retrieval: query from the pool, top_k/threshold from the DSL, clear failures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import knowledge_retrieval
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError
from chatflow.providers.fake import FakeRegistry

NODE = {  # admin-assistant-qc-kr.yml
    "type": "knowledge-retrieval",
    "title": "考勤知识库检索",
    "dataset_ids": ["ds-1"],
    "query_variable_selector": ["sys", "query"],
    "retrieval_mode": "multiple",
    "metadata_filtering_mode": "manual",
    "metadata_filtering_conditions": {
        "logical_operator": "and",
        "conditions": [{"comparison_operator": "is", "id": "c1", "name": "type", "value": "考勤"}],
    },
    "multiple_retrieval_config": {
        "reranking_enable": False,
        "top_k": 4,
        "score_threshold": 0.5,
        "reranking_model": {"model": "m", "provider": "p"},
    },
}


class Knowledge:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str, int, float | None]] = []

    async def retrieve(
        self, dataset_ids: Sequence[str], query: str, *, top_k: int, score_threshold: float | None
    ) -> list[dict[str, Any]]:
        self.calls.append((list(dataset_ids), query, top_k, score_threshold))
        return [{"content": f"about {query}", "title": "doc.md", "metadata": {"score": 0.9}}]


def _ctx(knowledge: Knowledge | None, query: str = "请假流程") -> NodeContext:
    services = EngineServices(models=FakeRegistry(), limits=EngineLimits(), knowledge=knowledge)
    return NodeContext("kr", VariablePool(system={"query": query}), services)


async def test_retrieves_with_dsl_settings() -> None:
    knowledge = Knowledge()
    config = knowledge_retrieval.Config.model_validate(NODE)
    (result,) = [e async for e in knowledge_retrieval.run(_ctx(knowledge), config)]
    assert knowledge.calls == [(["ds-1"], "请假流程", 4, 0.5)]
    assert isinstance(result, NodeResult)
    assert result.outputs["result"][0]["content"] == "about 请假流程"
    assert result.inputs == {"query": "请假流程"}


async def test_failures_name_the_problem() -> None:
    config = knowledge_retrieval.Config.model_validate(NODE)
    with pytest.raises(NodeError, match=r"knowledge base is not configured \(datasets: ds-1\)"):
        [_ async for _ in knowledge_retrieval.run(_ctx(None), config)]
    with pytest.raises(NodeError, match="Query is required"):
        [_ async for _ in knowledge_retrieval.run(_ctx(Knowledge(), query=""), config)]
