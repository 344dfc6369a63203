"""The engine's `KnowledgeBase`: an app's dataset references -> datasets -> chunks.

Exports carry their origin's dataset ids. `resolve` maps each reference through the
app's mapping (`chatflow app import FILE --dataset REF=DATASET`, `chatflow app
map-dataset`, the console); a reference may also name (by id or name) a dataset already
mapped to the app. Nothing else resolves: an imported DSL is someone else's code, and a
server-wide lookup would let it read any dataset by guessing its id or name. An unmapped
reference fails the node with the command that maps it.

`retrieve` applies Dify's two modes: single searches the routed dataset with its own
settings; multiple searches every dataset with the node's top_k, threshold and
reranking (weighted score = hybrid search with the node's weights, or a reranking
model) and keeps the best `top_k` overall. Results are Dify's knowledge-retrieval items,
whose `metadata` the LLM node turns into `retriever_resources` citations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.engine.graph import Graph
from chatflow.engine.nodes.base import DatasetInfo, RetrievalRequest
from chatflow.engine.nodes.knowledge_retrieval import Config as RetrievalConfig
from chatflow.engine.nodes.tool import Config as ToolConfig
from chatflow.errors import InvalidRequest, NodeError
from chatflow.knowledge.filters import MetadataFilter
from chatflow.knowledge.index import RetrievalSettings
from chatflow.services.knowledge import (
    KnowledgeService,
    RetrievedChunk,
    effective_retrieval,
    settings_for,
)
from chatflow.services.knowledge_rows import BUILT_IN_FIELDS, document_metadata
from chatflow.store import Database
from chatflow.store import knowledge as repo
from chatflow.store.knowledge_models import Dataset


def unmapped_message(ref: str) -> str:
    """What an unmapped reference fails with (and what `app import` prints)."""
    return (
        f"dataset {ref!r} is not mapped to a knowledge base of this app; map it with: "
        f"chatflow app import FILE --dataset '{ref}'=DATASET (or chatflow app map-dataset "
        f"APP '{ref}'=DATASET; DATASET: a dataset id or name from `chatflow kb list`)"
    )


class DatasetKnowledgeBase:
    def __init__(self, db: Database, knowledge: KnowledgeService) -> None:
        self._db = db
        self._knowledge = knowledge

    async def resolve(self, app_id: str, refs: Sequence[str]) -> list[DatasetInfo]:
        async with self._db.session() as session:
            grants = await AppGrants.load(session, app_id)
            found: list[DatasetInfo] = []
            for ref in refs:
                dataset = grants.dataset(ref)
                if dataset is None:
                    raise NodeError(grants.refusal(ref))
                fields = await repo.metadata_fields(session, dataset.id)
                names = tuple((f.name, f.type) for f in fields)
                if dataset.built_in_field_enabled:
                    names += BUILT_IN_FIELDS
                found.append(
                    DatasetInfo(
                        ref=ref,
                        id=dataset.id,
                        name=dataset.name,
                        description=dataset.description,
                        metadata_fields=names,
                    )
                )
        return found

    async def retrieve(self, request: RetrievalRequest) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(d.id for d in request.datasets))
        async with self._db.session() as session:
            rows = {i: await repo.get_dataset(session, i) for i in ids}
        datasets = {i: row for i, row in rows.items() if row is not None}
        metadata_filter = MetadataFilter.from_dify(request.metadata_filter)
        try:
            settings = {i: _settings(row, request) for i, row in datasets.items()}
            hits = await self._knowledge.search(
                list(datasets), request.query, settings, metadata_filter, datasets=datasets
            )
        except InvalidRequest as exc:
            raise NodeError(exc.message) from exc
        if request.mode == "multiple":
            if request.score_threshold is not None:
                hits = [h for h in hits if h.score >= request.score_threshold]
            if request.top_k is not None:
                hits = hits[: request.top_k]
        return [_item(hit, position) for position, hit in enumerate(hits, 1)]


def _settings(dataset: Dataset, request: RetrievalRequest) -> RetrievalSettings:
    raw: dict[str, Any] = dict(effective_retrieval(dataset))
    if request.mode == "multiple":
        if request.top_k is not None:
            raw["top_k"] = request.top_k
        raw["score_threshold_enabled"] = request.score_threshold is not None
        raw["score_threshold"] = request.score_threshold
        raw["reranking_enable"] = request.reranking_enable
        if request.reranking_enable and request.reranking_mode == "weighted_score":
            raw["reranking_mode"] = "weighted_score"
            if dataset.indexing_technique != "economy":
                raw["search_method"] = "hybrid_search"
            if request.weights:
                raw["weights"] = dict(request.weights)
        elif request.reranking_enable and request.reranking_model is not None:
            provider, model = request.reranking_model
            raw["reranking_mode"] = "reranking_model"
            raw["reranking_model"] = {
                "reranking_provider_name": provider,
                "reranking_model_name": model,
            }
    return settings_for(dataset, raw)


def _item(hit: RetrievedChunk, position: int) -> dict[str, Any]:
    """Dify's knowledge-retrieval result item for one chunk."""
    segment, document, dataset = hit.segment, hit.document, hit.dataset
    content = (
        f"question:{segment.content} answer:{segment.answer}" if segment.answer else segment.content
    )
    metadata: Mapping[str, Any] = {
        "_source": "knowledge",
        "position": position,
        "dataset_id": dataset.id,
        "dataset_name": dataset.name,
        "document_id": document.id,
        "document_name": document.name,
        "data_source_type": document.data_source_type,
        "segment_id": segment.id,
        "retriever_from": "workflow",
        "score": hit.score,
        "segment_hit_count": segment.hit_count,
        "segment_word_count": segment.word_count,
        "segment_position": segment.position,
        "segment_index_node_hash": segment.index_node_hash,
        "doc_metadata": document_metadata(document, dataset) or None,
    }
    return {
        "metadata": dict(metadata),
        "title": document.name,
        "content": content,
        "files": [],
        "summary": None,
    }


# The provider ids (as written in a DSL) of the built-in knowledge search tool.
KNOWLEDGE_TOOLS = frozenset(("knowledge", "dataset_retriever", "langgenius/knowledge/knowledge"))


def dataset_refs(graph: Graph) -> list[str]:
    """Every dataset reference an app's graph makes, in graph order, once each: the
    knowledge nodes' datasets and the knowledge search tools' constant `dataset`."""
    refs: list[str] = []
    for node in graph.nodes.values():
        if isinstance(node.config, RetrievalConfig):
            refs.extend(node.config.dataset_ids)
        elif isinstance(node.config, ToolConfig):
            refs.extend(_tool_dataset(node.config))
    return list(dict.fromkeys(refs))


def _tool_dataset(config: ToolConfig) -> list[str]:
    provider = config.provider_id or config.provider_name
    if provider not in KNOWLEDGE_TOOLS:
        return []
    value: Any = config.tool_configurations.get("dataset")
    if isinstance(value, Mapping) and value.get("type") == "constant":
        value = value.get("value")
    binding = config.tool_parameters.get("dataset")
    if binding is not None:
        value = binding.value if binding.type == "constant" else None
    return [value] if isinstance(value, str) and value else []


async def map_refs(
    db: Database, app_id: str, refs: Sequence[str], mapping: Mapping[str, str]
) -> list[str]:
    """Store `mapping` (ref -> dataset id or name) for the app; the refs left unmapped
    (neither mapped now or before, nor naming a dataset already mapped to the app)."""
    async with db.session() as session:
        for ref, target in mapping.items():
            dataset = await repo.find_dataset(session, target)
            if dataset is None:
                raise InvalidRequest(f"--dataset {ref}={target}: no dataset {target!r}")
            await repo.set_app_ref(session, app_id, ref, dataset.id)
        grants = await AppGrants.load(session, app_id)
    return [ref for ref in refs if grants.dataset(ref) is None]


async def app_mapping(db: Database, app_id: str) -> dict[str, str]:
    """The app's mapped references: ref -> dataset id."""
    async with db.session() as session:
        return await repo.app_refs(session, app_id)


class AppGrants:
    """The datasets an app may read: its mapped references and what they point at."""

    def __init__(self, refs: Mapping[str, str], datasets: Mapping[str, Dataset]) -> None:
        self._refs = refs
        self._datasets = datasets

    @classmethod
    async def load(cls, session: AsyncSession, app_id: str) -> AppGrants:
        refs = await repo.app_refs(session, app_id) if app_id else {}
        datasets: dict[str, Dataset] = {}
        for dataset_id in set(refs.values()):
            row = await repo.get_dataset(session, dataset_id)
            if row is not None:
                datasets[dataset_id] = row
        return cls(refs, datasets)

    def dataset(self, ref: str) -> Dataset | None:
        """The dataset `ref` reaches for this app: its mapping, else a mapped dataset
        named by id or name; None when the app has no grant for it."""
        if ref in self._refs:
            return self._datasets.get(self._refs[ref])
        for row in self._datasets.values():
            if ref in (row.id, row.name):
                return row
        return None

    def refusal(self, ref: str) -> str:
        if ref in self._refs:
            return (
                f"dataset {ref!r} is mapped to {self._refs[ref]}, which no longer exists; map "
                f"it again: chatflow app map-dataset APP '{ref}'=DATASET"
            )
        return unmapped_message(ref)
