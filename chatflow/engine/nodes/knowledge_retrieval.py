"""The knowledge-retrieval node: looks the query up in datasets via `services.knowledge`.

Parses Dify's node data and carries all of it to the host's `KnowledgeBase`:
`retrieval_mode` single (the model picks one dataset by name and description, which is
then searched with its own settings) or multiple (every dataset searched, merged with
the node's `top_k`, `score_threshold`, reranking model or weighted score); metadata
filtering `manual` (conditions whose values may hold `{{#node.var#}}` references) or
`automatic` (the node's `metadata_model_config` model writes the conditions from the
query and the datasets' fields). The output `result` is the list of chunks in Dify's
shape (`content`, `title`, `metadata` with `_source: knowledge`, scores and ids), which
an LLM node's context turns into its `{{#context#}}` text and citations.

Without a knowledge base the node fails with a clear "not configured" error naming the
datasets; an unmapped dataset reference fails with the command that maps it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.nodes import _model_call
from chatflow.engine.nodes.base import (
    DatasetInfo,
    NodeConfig,
    NodeContext,
    NodeEvent,
    NodeResult,
    RetrievalRequest,
)
from chatflow.engine.nodes.llm.config import ModelConfig
from chatflow.engine.template import render, to_text
from chatflow.engine.variables import MISSING, SYSTEM
from chatflow.errors import NodeError
from chatflow.providers.base import ChatMessage

TYPE = "knowledge-retrieval"


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
        names = ", ".join(config.dataset_ids) or "none"
        raise NodeError(f"knowledge base is not configured (datasets: {names})")
    query = _model_call.query_text(ctx.pool, config.query_variable_selector)
    inputs = {"query": query}
    if not query:
        raise NodeError("Query is required.")
    if not config.dataset_ids:
        yield NodeResult(outputs={"result": []}, inputs=inputs)
        return
    app_id = ctx.pool.get([SYSTEM, "app_id"])
    datasets = await knowledge.resolve(
        "" if app_id is MISSING or app_id is None else str(app_id), config.dataset_ids
    )
    process: dict[str, Any] = {}
    metadata_filter = await _metadata_filter(ctx, config, query, datasets, process)
    if config.retrieval_mode == "single":
        chosen = await _route(ctx, config, query, datasets)
        request = RetrievalRequest(
            datasets=(chosen,) if chosen else (),
            query=query,
            mode="single",
            metadata_filter=metadata_filter,
        )
    else:
        multiple = config.multiple_retrieval_config or MultipleRetrievalConfig()
        reranking = multiple.reranking_model
        request = RetrievalRequest(
            datasets=tuple(datasets),
            query=query,
            mode="multiple",
            top_k=multiple.top_k,
            score_threshold=multiple.score_threshold,
            reranking_enable=multiple.reranking_enable,
            reranking_mode=multiple.reranking_mode,
            reranking_model=(
                (reranking.provider, reranking.model)
                if reranking is not None and reranking.model
                else None
            ),
            weights=multiple.weights,
            metadata_filter=metadata_filter,
        )
    result = await knowledge.retrieve(request) if request.datasets else []
    yield NodeResult(outputs={"result": result}, inputs=inputs, process_data=process)


async def _metadata_filter(
    ctx: NodeContext,
    config: Config,
    query: str,
    datasets: Sequence[DatasetInfo],
    process: dict[str, Any],
) -> dict[str, Any] | None:
    if config.metadata_filtering_mode == "manual":
        conditions = config.metadata_filtering_conditions
        if conditions is None or not conditions.conditions:
            return None
        return {
            "logical_operator": conditions.logical_operator,
            "conditions": [
                {
                    "name": c.name,
                    "comparison_operator": c.comparison_operator,
                    "value": _rendered(ctx, c.value),
                }
                for c in conditions.conditions
            ],
        }
    if config.metadata_filtering_mode == "automatic":
        found = await _automatic_conditions(ctx, config, query, datasets)
        process["metadata_filter"] = found
        return found
    return None


def _rendered(ctx: NodeContext, value: Any) -> Any:
    """Condition values may reference variables (`{{#start.type#}}`), as in Dify."""
    if isinstance(value, str) and "{{#" in value:
        return render(value, ctx.pool)
    if isinstance(value, list):
        return [_rendered(ctx, v) for v in value]
    return value


_AUTOMATIC_PROMPT = """You turn a search query into metadata filter conditions.
Metadata fields (name: type): {fields}
Operators: for strings "is", "is not", "contains", "not contains", "start with", "end with";
for numbers and times "=", "≠", ">", "<", "≥", "≤" (times as Unix seconds).
Use only fields the query clearly constrains. Reply with JSON only, in this shape:
{{"metadata_map": [{{"metadata_field_name": "...", "metadata_field_value": "...",
"comparison_operator": "..."}}]}}
Query: {query}"""


async def _automatic_conditions(
    ctx: NodeContext, config: Config, query: str, datasets: Sequence[DatasetInfo]
) -> dict[str, Any] | None:
    """Dify's automatic mode: the model writes conditions over the datasets' fields."""
    fields = {name: kind for d in datasets for name, kind in d.metadata_fields}
    model = config.metadata_model_config
    if not fields or model is None or not model.name:
        return None
    prompt = _AUTOMATIC_PROMPT.format(
        fields=", ".join(f"{n}: {t}" for n, t in fields.items()), query=query
    )
    reply = await _model_call.complete(
        ctx,
        ModelConfig(
            provider=model.provider, name=model.name, completion_params=model.completion_params
        ),
        [ChatMessage(role="user", content=prompt)],
    )
    conditions = [
        {
            "name": str(item.get("metadata_field_name")),
            "comparison_operator": str(item.get("comparison_operator") or "is"),
            "value": item.get("metadata_field_value"),
        }
        for item in _json_list(_model_call.strip_think(reply.text))
        if isinstance(item, dict) and item.get("metadata_field_name") in fields
    ]
    return {"logical_operator": "and", "conditions": conditions} if conditions else None


def _json_list(text: str) -> list[Any]:
    match = re.search(r"\{[\s\S]*\}", text)
    if match is None:
        return []
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return []
    found = data.get("metadata_map") if isinstance(data, dict) else None
    return found if isinstance(found, list) else []


_ROUTER_PROMPT = """Pick the knowledge base most likely to answer the question.
{options}
Question: {query}
Reply with the number of one knowledge base only."""


async def _route(
    ctx: NodeContext, config: Config, query: str, datasets: Sequence[DatasetInfo]
) -> DatasetInfo | None:
    """Single mode: one dataset, chosen by the node's model from names and descriptions
    (Dify's router); the first when there is one dataset or the model's reply names none."""
    if len(datasets) <= 1:
        return datasets[0] if datasets else None
    model = (config.single_retrieval_config or SingleRetrievalConfig()).model
    if not model.name:
        return datasets[0]
    options = "\n".join(
        f"{i}. {d.name}: {d.description or 'no description'}" for i, d in enumerate(datasets, 1)
    )
    reply = await _model_call.complete(
        ctx,
        ModelConfig(
            provider=model.provider, name=model.name, completion_params=model.completion_params
        ),
        [ChatMessage(role="user", content=_ROUTER_PROMPT.format(options=options, query=query))],
    )
    text = to_text(_model_call.strip_think(reply.text))
    number = re.search(r"\d+", text)
    if number is not None and 1 <= int(number.group(0)) <= len(datasets):
        return datasets[int(number.group(0)) - 1]
    for dataset in datasets:
        if dataset.name and dataset.name in text:
            return dataset
    return datasets[0]
