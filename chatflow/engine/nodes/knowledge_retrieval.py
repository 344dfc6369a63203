"""The knowledge-retrieval node: looks the query up in datasets via `services.knowledge`.

Parses Dify's node data (`dataset_ids`, `retrieval_mode` single|multiple with their
configs, reranking and metadata-filtering settings) and outputs `result`, the list of
retrieved chunks in Dify's shape as the host's `KnowledgeBase` returns them. Without a
knowledge base the node fails with a clear "not configured" error naming the datasets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.template import to_text
from chatflow.engine.variables import MISSING
from chatflow.errors import NodeError

TYPE = "knowledge-retrieval"

# Dify's single-retrieval mode returns the best few chunks of the routed dataset.
_SINGLE_MODE_TOP_K = 4


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ModelRef(_Part):
    provider: str = ""
    model: str = ""


class RetrievalModel(_Part):
    provider: str = ""
    name: str = ""
    mode: str = "chat"
    completion_params: dict[str, Any] = Field(default_factory=dict)


class SingleRetrievalConfig(_Part):
    model: RetrievalModel = Field(default_factory=RetrievalModel)


class MultipleRetrievalConfig(_Part):
    top_k: int = 4
    score_threshold: float | None = None
    reranking_enable: bool = True
    reranking_mode: str = "reranking_model"
    reranking_model: ModelRef | None = None
    weights: dict[str, Any] | None = None


class MetadataCondition(_Part):
    name: str = ""
    comparison_operator: str = ""
    value: Any = None


class MetadataConditions(_Part):
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[MetadataCondition] = Field(default_factory=list)


class Config(NodeConfig):
    query_variable_selector: list[str] = Field(default_factory=list)
    dataset_ids: list[str] = Field(default_factory=list)
    retrieval_mode: Literal["single", "multiple"] = "multiple"
    single_retrieval_config: SingleRetrievalConfig | None = None
    multiple_retrieval_config: MultipleRetrievalConfig | None = None
    metadata_filtering_mode: Literal["disabled", "automatic", "manual"] = "disabled"
    metadata_filtering_conditions: MetadataConditions | None = None
    metadata_model_config: RetrievalModel | None = None


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    knowledge = ctx.services.knowledge
    if knowledge is None:
        datasets = ", ".join(config.dataset_ids) or "none"
        raise NodeError(f"knowledge base is not configured (datasets: {datasets})")
    value = ctx.pool.get(config.query_variable_selector)
    query = "" if value is MISSING or value is None else to_text(value)
    inputs = {"query": query}
    if not query:
        raise NodeError("Query is required.")
    if config.retrieval_mode == "multiple":
        multiple = config.multiple_retrieval_config or MultipleRetrievalConfig()
        top_k, threshold = multiple.top_k, multiple.score_threshold
    else:
        top_k, threshold = _SINGLE_MODE_TOP_K, None
    result = await knowledge.retrieve(
        config.dataset_ids, query, top_k=top_k, score_threshold=threshold
    )
    yield NodeResult(outputs={"result": result}, inputs=inputs)
