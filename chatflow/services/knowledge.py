"""Knowledge bases: Dify's Knowledge API rules over the store, the index and the ingester.

`KnowledgeService` is what the Knowledge API routes, the CLI and the engine's knowledge
base call (its `metadata` and `tags` parts live in `knowledge_meta.py`). It validates
like Dify (same messages and codes), keeps the original files in file storage, queues
documents for the background `Ingester`, keeps the retrieval index
(`knowledge.index.ChunkIndex`) in step with segment edits, and runs searches that only
ever see completed, enabled documents and enabled segments.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from chatflow.errors import ChatflowError, InvalidRequest, NotFound, Unauthorized
from chatflow.knowledge import extract, splitter
from chatflow.knowledge.filters import MetadataFilter
from chatflow.knowledge.index import ChunkIndex, IndexedChunk, RetrievalSettings
from chatflow.services.files import FileTooLarge, UnsupportedFileType
from chatflow.services.knowledge_ingest import Ingester
from chatflow.services.knowledge_meta import MetadataService, TagService
from chatflow.services.knowledge_rows import (
    dataset_or_404,
    display_status,
    document_metadata,
    document_or_404,
    segment_or_404,
)
from chatflow.store import Database
from chatflow.store import knowledge as repo
from chatflow.store._types import utcnow
from chatflow.store.apps import hash_token
from chatflow.store.knowledge_models import (
    Dataset,
    DatasetApiKey,
    DatasetDocument,
    DatasetMetadataField,
    DatasetSegment,
    KnowledgeTag,
)
from chatflow.store.paging import NumberedPage
from chatflow.store.storage import FileStorage

_KEY_CACHE_SECONDS = 30.0
_STORAGE_PREFIX = "datasets"
QUERY_MAX_CHARS = 250  # Dify's hit-testing limit
INDEXING_TECHNIQUES = ("high_quality", "economy")
SEARCH_METHODS = ("semantic_search", "full_text_search", "hybrid_search", "keyword_search")
_ACTIVE = ("parsing", "cleaning", "splitting", "indexing")


def default_retrieval_model() -> dict[str, Any]:
    """What a dataset searches with until its `retrieval_model` is set: hybrid search
    with Dify's default weights (0.7 semantic, 0.3 keyword), top 4, no threshold."""
    return {
        "search_method": "hybrid_search",
        "reranking_enable": False,
        "reranking_mode": "weighted_score",
        "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""},
        "weights": {
            "weight_type": "customized",
            "vector_setting": {
                "vector_weight": 0.7,
                "embedding_provider_name": "",
                "embedding_model_name": "",
            },
            "keyword_setting": {"keyword_weight": 0.3},
        },
        "top_k": 4,
        "score_threshold_enabled": False,
        "score_threshold": None,
    }


class KnowledgeError(ChatflowError):
    """A Knowledge API error with its own Dify code (`dataset_name_duplicate`, ...)."""


def _name_duplicate() -> KnowledgeError:
    return KnowledgeError(
        "The dataset name already exists. Please modify your dataset name.",
        code="dataset_name_duplicate",
        status=409,
    )


@dataclass(frozen=True, slots=True)
class DatasetView:
    """A dataset with what its detail shows besides its row."""

    row: Dataset
    document_count: int
    word_count: int
    available_documents: int
    app_count: int
    tags: tuple[KnowledgeTag, ...]
    fields: tuple[DatasetMetadataField, ...]


@dataclass(frozen=True, slots=True)
class DocumentStats:
    segment_count: int
    characters: int
    hit_count: int


@dataclass(frozen=True, slots=True)
class BatchStatus:
    document: DatasetDocument
    completed_segments: int
    total_segments: int


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    """One search hit, with the rows it came from."""

    segment: DatasetSegment
    document: DatasetDocument
    dataset: Dataset
    score: float


@dataclass(frozen=True, slots=True)
class NewDocument:
    """What a create/update request brings: the bytes, their name and the rules."""

    name: str
    content: bytes
    extension: str
    mime_type: str
    process_rule: Mapping[str, Any] | None
    doc_form: str = "text_model"
    doc_language: str = "English"


class KnowledgeService:
    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        index: ChunkIndex,
        *,
        upload_max_mb: int = 15,
        embedding_model: tuple[str, str] = ("", ""),
        extract_seconds: float = 30.0,
        extract_memory_mb: int = 512,
    ) -> None:
        self._db = db
        self.storage = storage
        self.index = index
        self._upload_max_bytes = upload_max_mb * 1024 * 1024
        # (provider, model) reported as the datasets' embedding model.
        self.embedding_model = embedding_model
        self.ingester = Ingester(
            db,
            storage,
            index,
            extract_seconds=extract_seconds,
            extract_memory_mb=extract_memory_mb,
        )
        self.metadata = MetadataService(db)
        self.tags = TagService(db)
        self._keys: dict[str, float] = {}  # token hash -> expiry of the cached lookup

    async def start(self) -> None:
        await self.ingester.start()

    async def close(self) -> None:
        await self.ingester.close()

    # -- keys --------------------------------------------------------------------------

    async def create_key(self, token: str | None = None) -> str:
        """Store `token` (or a new `dataset-...` key) and return it; shown only here."""
        token = token or repo.mint_dataset_token()
        async with self._db.session() as session:
            if await repo.find_dataset_key(session, token) is None:
                await repo.add_dataset_key(session, token)
        return token

    async def new_key(self) -> tuple[str, str]:
        """A new `dataset-...` key: (its id, the token, shown only here)."""
        token = repo.mint_dataset_token()
        async with self._db.session() as session:
            return (await repo.add_dataset_key(session, token)).id, token

    async def list_keys(self) -> list[DatasetApiKey]:
        async with self._db.session() as session:
            return await repo.list_dataset_keys(session)

    async def revoke_key(self, key_id: str) -> None:
        """Delete a dataset key; it stops working here at once (other workers' caches
        forget it within `_KEY_CACHE_SECONDS`)."""
        async with self._db.session() as session:
            found = await repo.delete_dataset_key(session, key_id)
        if found is None:
            raise NotFound("API key not found.", code="api_key_not_found")
        self._keys.pop(found.token_hash, None)

    async def authenticate(self, token: str) -> None:
        """Accept a dataset key; `Unauthorized` otherwise (app keys included)."""
        token_hash = hash_token(token)
        now = time.monotonic()
        if self._keys.get(token_hash, 0.0) > now:
            return
        async with self._db.session() as session:
            found = await repo.find_dataset_key(session, token)
        if found is None:
            self._keys.pop(token_hash, None)
            raise Unauthorized("Access token is invalid")
        self._keys[token_hash] = now + _KEY_CACHE_SECONDS

    # -- datasets ----------------------------------------------------------------------

    async def create_dataset(
        self,
        name: str,
        *,
        description: str = "",
        indexing_technique: str | None = None,
        permission: str | None = None,
        retrieval_model: Mapping[str, Any] | None = None,
        embedding_model: str | None = None,
        embedding_model_provider: str | None = None,
    ) -> DatasetView:
        name = name.strip()
        if not name or len(name) > 40:
            raise InvalidRequest("Name must be between 1 to 40 characters.")
        _check_technique(indexing_technique)
        retrieval = _checked_retrieval_model(retrieval_model) if retrieval_model else None
        try:
            async with self._db.session() as session:
                if await repo.dataset_by_name(session, name) is not None:
                    raise _name_duplicate()
                row = Dataset(
                    name=name,
                    description=description or "",
                    permission=permission or "only_me",
                    indexing_technique=indexing_technique,
                    retrieval_model=retrieval,
                    embedding_model=embedding_model
                    or (self.embedding_model[1] if indexing_technique == "high_quality" else None),
                    embedding_model_provider=embedding_model_provider
                    or (self.embedding_model[0] if indexing_technique == "high_quality" else None),
                )
                session.add(row)
                await session.flush()
                dataset_id = row.id
        except IntegrityError:
            raise _name_duplicate() from None
        return await self.get_dataset(dataset_id)

    async def list_datasets(
        self, *, page: int, limit: int, keyword: str | None, tag_ids: Sequence[str]
    ) -> NumberedPage[DatasetView]:
        async with self._db.session() as session:
            found = await repo.list_datasets(
                session, page=page, limit=limit, keyword=keyword, tag_ids=tag_ids
            )
            views = await self._views(session, found.items)
        return NumberedPage(items=views, page=found.page, limit=found.limit, total=found.total)

    async def get_dataset(self, dataset_id: str) -> DatasetView:
        async with self._db.session() as session:
            row = await dataset_or_404(session, dataset_id)
            return (await self._views(session, [row]))[0]

    async def find_dataset(self, ref: str) -> Dataset:
        """A dataset by id or name (CLI, import mapping)."""
        async with self._db.session() as session:
            row = await repo.find_dataset(session, ref)
        if row is None:
            raise NotFound(f"Dataset not found: {ref}")
        return row

    async def update_dataset(self, dataset_id: str, changes: Mapping[str, Any]) -> DatasetView:
        """PATCH /datasets/{id}: only the fields given change."""
        if "indexing_technique" in changes:
            _check_technique(changes["indexing_technique"])
        retrieval = changes.get("retrieval_model")
        try:
            async with self._db.session() as session:
                row = await dataset_or_404(session, dataset_id)
                if "name" in changes and changes["name"] is not None:
                    name = str(changes["name"]).strip()
                    if not name or len(name) > 40:
                        raise InvalidRequest("Name must be between 1 to 40 characters.")
                    other = await repo.dataset_by_name(session, name)
                    if other is not None and other.id != row.id:
                        raise _name_duplicate()
                    row.name = name
                if changes.get("description") is not None:
                    row.description = str(changes["description"])
                if changes.get("permission") is not None:
                    row.permission = str(changes["permission"])
                technique = changes.get("indexing_technique")
                if technique:
                    row.indexing_technique = technique
                    if technique == "high_quality" and not row.embedding_model:
                        row.embedding_model_provider, row.embedding_model = self.embedding_model
                if changes.get("embedding_model"):
                    row.embedding_model = str(changes["embedding_model"])
                if changes.get("embedding_model_provider"):
                    row.embedding_model_provider = str(changes["embedding_model_provider"])
                if retrieval:
                    row.retrieval_model = _checked_retrieval_model(retrieval)
                row.updated_at = utcnow()
                await session.flush()
        except IntegrityError:
            raise _name_duplicate() from None
        return await self.get_dataset(dataset_id)

    async def delete_dataset(self, dataset_id: str) -> None:
        async with self._db.session() as session:
            row = await dataset_or_404(session, dataset_id)
            if (await repo.app_counts(session, [row.id])).get(row.id):
                raise KnowledgeError(
                    "The dataset is being used by some apps. Please remove the dataset from "
                    "the apps before deleting it.",
                    code="dataset_in_use",
                    status=409,
                )
            documents = await repo.list_documents(session, row.id, page=1, limit=1_000_000)
            await repo.delete_dataset(session, row.id)
        await self.index.drop_dataset(dataset_id)
        for document in documents.items:
            await self.storage.delete(document.storage_key)

    # -- documents ---------------------------------------------------------------------

    def check_upload(self, filename: str, size: int) -> str:
        """The extension of an acceptable upload; Dify's 415/413 otherwise."""
        try:
            extension = extract.check_supported(filename)
        except extract.UnsupportedDocument:
            raise UnsupportedFileType("File type not allowed.") from None
        if size > self._upload_max_bytes:
            limit_mb = self._upload_max_bytes // (1024 * 1024)
            raise FileTooLarge(f"File size exceeded. {size} > {limit_mb} MB")
        return extension

    async def create_document(
        self,
        dataset_id: str,
        new: NewDocument,
        *,
        indexing_technique: str | None = None,
        retrieval_model: Mapping[str, Any] | None = None,
    ) -> tuple[DatasetDocument, str]:
        """Store the file, queue its ingestion; (document, batch)."""
        _check_technique(indexing_technique)
        rule = splitter.parse_rule(new.process_rule) if new.process_rule else None
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            if not dataset.indexing_technique and not indexing_technique:
                raise InvalidRequest("indexing_technique is required.")
            if rule is None and new.process_rule is None and dataset.process_rule:
                rule = splitter.parse_rule(dataset.process_rule)
            rule = rule or splitter.AUTOMATIC
            if not dataset.indexing_technique:
                dataset.indexing_technique = indexing_technique
                if indexing_technique == "high_quality" and not dataset.embedding_model:
                    dataset.embedding_model_provider, dataset.embedding_model = self.embedding_model
            if retrieval_model and not dataset.retrieval_model:
                dataset.retrieval_model = _checked_retrieval_model(retrieval_model)
            dataset.data_source_type = dataset.data_source_type or "upload_file"
            dataset.process_rule = rule.to_dify()
            batch = _batch_id()
            key = f"{_STORAGE_PREFIX}/{dataset.id}/{uuid.uuid4().hex}.{new.extension}"
            document = DatasetDocument(
                dataset_id=dataset.id,
                position=await repo.next_document_position(session, dataset.id),
                name=new.name,
                storage_key=key,
                extension=new.extension,
                mime_type=new.mime_type,
                size=len(new.content),
                batch=batch,
                process_rule=rule.to_dify(),
                doc_form=new.doc_form,
                doc_language=new.doc_language,
            )
            session.add(document)
            await self.storage.save(key, new.content)
            await session.flush()
        self.ingester.wake()
        return document, batch

    async def update_document(
        self, dataset_id: str, document_id: str, new: NewDocument | None, *, name: str | None
    ) -> tuple[DatasetDocument, str]:
        """update-by-text / update-by-file: new content (or rules) re-ingests the document."""
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            document = await document_or_404(session, dataset.id, document_id)
            if display_status(document) not in ("available", "disabled", "error"):
                raise InvalidRequest("Document is not available")
            old_key = None
            if name:
                document.name = name
            if new is not None:
                if new.process_rule:
                    document.process_rule = splitter.parse_rule(new.process_rule).to_dify()
                    document.process_rule_id = str(uuid.uuid4())
                if new.content:
                    old_key = document.storage_key
                    document.storage_key = (
                        f"{_STORAGE_PREFIX}/{dataset.id}/{uuid.uuid4().hex}.{new.extension}"
                    )
                    document.file_id = str(uuid.uuid4())
                    document.extension = new.extension
                    document.mime_type = new.mime_type
                    document.size = len(new.content)
                    await self.storage.save(document.storage_key, new.content)
                document.batch = _batch_id()
                document.indexing_status = "waiting"
                document.error = None
                document.completed_at = None
                document.ingest_owner = None
                document.ingest_heartbeat = None
            document.updated_at = utcnow()
            await session.flush()
            batch = document.batch
        if old_key:
            await self.storage.delete(old_key)
        self.ingester.wake()
        return document, batch

    async def list_documents(
        self, dataset_id: str, *, page: int, limit: int, keyword: str | None, status: str | None
    ) -> NumberedPage[DatasetDocument]:
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            return await repo.list_documents(
                session, dataset_id, page=page, limit=limit, keyword=keyword, status=status
            )

    async def get_document(
        self, dataset_id: str, document_id: str
    ) -> tuple[Dataset, DatasetDocument, DocumentStats]:
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            document = await document_or_404(session, dataset.id, document_id)
            stats = DocumentStats(*await repo.segment_stats(session, document.id))
        return dataset, document, stats

    async def document_dataset(self, dataset_id: str) -> Dataset:
        async with self._db.session() as session:
            return await dataset_or_404(session, dataset_id)

    async def delete_document(self, dataset_id: str, document_id: str) -> None:
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            document = await document_or_404(session, dataset.id, document_id)
            if document.archived:
                raise KnowledgeError(
                    "The archived document is not editable.",
                    code="archived_document_immutable",
                    status=403,
                )
            if document.indexing_status in _ACTIVE:
                raise KnowledgeError(
                    "Cannot delete document during indexing.", code="document_indexing", status=400
                )
            segment_ids = await repo.document_segment_ids(session, document.id)
            await session.delete(document)
            key = document.storage_key
        await self.index.remove(dataset_id, segment_ids)
        await self.storage.delete(key)

    async def indexing_status(self, dataset_id: str, batch: str) -> list[BatchStatus]:
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            documents = await repo.batch_documents(session, dataset_id, batch)
            if not documents:
                raise NotFound("Documents not found.")
            progress = await repo.segment_progress(session, [d.id for d in documents])
        return [BatchStatus(d, *progress.get(d.id, (0, 0))) for d in documents]

    async def set_documents_status(
        self, dataset_id: str, action: str, document_ids: Sequence[str]
    ) -> None:
        """PATCH /documents/status/{enable|disable|archive|un_archive} (Dify's rules)."""
        if action not in ("enable", "disable", "archive", "un_archive"):
            raise KnowledgeError("Invalid action.", code="invalid_action", status=400)
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            documents = await repo.documents_by_ids(session, dataset_id, document_ids)
            now = utcnow()
            for document in documents:
                if document.indexing_status in _ACTIVE or document.indexing_status == "waiting":
                    raise KnowledgeError(
                        f"Document: {document.name} is being indexed, please try again later",
                        code="invalid_action",
                        status=400,
                    )
                if action == "enable" and not document.enabled:
                    document.enabled, document.disabled_at = True, None
                elif action == "disable" and document.enabled:
                    if document.indexing_status != "completed":
                        raise KnowledgeError(
                            f"Document: {document.name} is not completed.",
                            code="invalid_action",
                            status=400,
                        )
                    document.enabled, document.disabled_at = False, now
                elif action == "archive" and not document.archived:
                    document.archived = True
                elif action == "un_archive" and document.archived:
                    document.archived = False
                document.updated_at = now

    # -- segments ----------------------------------------------------------------------

    async def list_segments(
        self,
        dataset_id: str,
        document_id: str,
        *,
        page: int,
        limit: int,
        statuses: Sequence[str],
        keyword: str | None,
    ) -> tuple[DatasetDocument, NumberedPage[DatasetSegment]]:
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            document = await document_or_404(session, dataset.id, document_id)
            found = await repo.list_segments(
                session, document.id, page=page, limit=limit, statuses=statuses, keyword=keyword
            )
        return document, found

    async def get_segment(
        self, dataset_id: str, document_id: str, segment_id: str
    ) -> tuple[DatasetDocument, DatasetSegment]:
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            document = await document_or_404(session, dataset.id, document_id)
            segment = await segment_or_404(session, document.id, segment_id)
        return document, segment

    async def create_segments(
        self, dataset_id: str, document_id: str, items: Sequence[Mapping[str, Any]]
    ) -> tuple[DatasetDocument, list[DatasetSegment]]:
        """Add chunks to a completed document; they are searchable when this returns."""
        for item in items:
            if not isinstance(item, Mapping) or not str(item.get("content") or "").strip():
                raise InvalidRequest("Content is empty")
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            document = await document_or_404(session, dataset.id, document_id)
            if document.indexing_status != "completed":
                raise NotFound("Document is not completed.")
            if not document.enabled:
                raise NotFound("Document is disabled.")
            if document.doc_form == "qa_model" and any(not i.get("answer") for i in items):
                raise InvalidRequest("Answer is required")
            position = await repo.next_segment_position(session, document.id)
            segments: list[DatasetSegment] = []
            for offset, item in enumerate(items):
                segments.append(_new_segment(document, position + offset, item))
            session.add_all(segments)
            await session.flush()
        await self._index_segments(dataset_id, segments)
        await self._refresh_counts(document.id)
        return document, segments

    async def update_segment(
        self, dataset_id: str, document_id: str, segment_id: str, changes: Mapping[str, Any]
    ) -> tuple[DatasetDocument, DatasetSegment]:
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            document = await document_or_404(session, dataset.id, document_id)
            segment = await segment_or_404(session, document.id, segment_id)
            enabled = changes.get("enabled")
            now = utcnow()
            if enabled is False:
                segment.enabled, segment.disabled_at = False, now
                reindex = False
            else:
                if not segment.enabled and enabled is not True:
                    raise InvalidRequest("Can't update disabled segment")
                segment.enabled, segment.disabled_at = True, None
                content = changes.get("content")
                if content is not None:
                    if not str(content).strip():
                        raise InvalidRequest("Content is empty")
                    segment.content = str(content)
                if changes.get("answer") is not None:
                    segment.answer = str(changes["answer"])
                if changes.get("keywords") is not None:
                    segment.keywords = [str(k) for k in changes["keywords"]]
                _measure(segment)
                reindex = True
            segment.updated_at = now
            await session.flush()
        await self.index.remove(dataset_id, [segment.id])
        if reindex:
            await self._index_segments(dataset_id, [segment])
        await self._refresh_counts(document.id)
        return document, segment

    async def delete_segment(self, dataset_id: str, document_id: str, segment_id: str) -> None:
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            document = await document_or_404(session, dataset.id, document_id)
            segment = await segment_or_404(session, document.id, segment_id)
            await session.delete(segment)
        await self.index.remove(dataset_id, [segment_id])
        await self._refresh_counts(document_id)

    async def _index_segments(self, dataset_id: str, segments: Sequence[DatasetSegment]) -> None:
        chunks = [
            IndexedChunk(
                segment_id=s.id,
                document_id=s.document_id,
                text=_indexed_text(s),
                keywords=tuple(s.keywords or ()),
            )
            for s in segments
        ]
        try:
            await self.index.add(dataset_id, chunks)
        except Exception as exc:
            async with self._db.session() as session:
                for found in (
                    await repo.segments_by_ids(session, [s.id for s in segments])
                ).values():
                    found.status, found.error = "error", str(exc) or repr(exc)
            raise
        now = utcnow()
        async with self._db.session() as session:
            for found in (await repo.segments_by_ids(session, [s.id for s in segments])).values():
                found.status, found.error = "completed", None
                found.indexing_at = found.indexing_at or now
                found.completed_at = now
        for segment in segments:
            segment.status, segment.completed_at = "completed", now

    async def _refresh_counts(self, document_id: str) -> None:
        async with self._db.session() as session:
            document = await session.get(DatasetDocument, document_id)
            if document is not None:
                _, characters, _ = await repo.segment_stats(session, document_id)
                document.word_count = characters
                document.updated_at = utcnow()

    # -- retrieval ---------------------------------------------------------------------

    async def retrieve(
        self,
        dataset_id: str,
        query: str,
        retrieval_model: Mapping[str, Any] | None = None,
        *,
        count_hits: bool = True,
    ) -> list[RetrievedChunk]:
        """POST /datasets/{id}/retrieve: the dataset's settings unless the request has some."""
        if not query or len(query) > QUERY_MAX_CHARS:
            raise InvalidRequest(
                f"Query is required and cannot exceed {QUERY_MAX_CHARS} characters"
            )
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
        # A request's settings override the dataset's, field by field.
        raw = {**effective_retrieval(dataset), **_checked_retrieval_model(retrieval_model or {})}
        settings = settings_for(dataset, raw)
        metadata_filter = MetadataFilter.from_dify(raw.get("metadata_filtering_conditions"))
        return await self.search(
            [dataset_id],
            query,
            {dataset_id: settings},
            metadata_filter,
            count_hits=count_hits,
            datasets={dataset_id: dataset},
        )

    async def search(
        self,
        dataset_ids: Sequence[str],
        query: str,
        settings: Mapping[str, RetrievalSettings],
        metadata_filter: MetadataFilter | None = None,
        *,
        count_hits: bool = True,
        datasets: Mapping[str, Dataset] | None = None,
    ) -> list[RetrievedChunk]:
        """Search each dataset with its settings; hits of completed, enabled documents
        and enabled segments only, best first. `datasets`: the rows, when the caller
        has them already (one query less per retrieval)."""
        async with self._db.session() as session:
            if datasets is None:
                datasets = await repo.datasets_by_ids(session, dataset_ids)
            keys = await repo.searchable_document_keys(
                session, list(datasets), with_metadata=metadata_filter is not None
            )
        admitted: dict[str, list[str]] = {dataset_id: [] for dataset_id in datasets}
        for key in keys:
            if metadata_filter is None or metadata_filter.admits(
                document_metadata(key, datasets[key.dataset_id])
            ):
                admitted[key.dataset_id].append(key.id)
        searches = [
            self.index.search(dataset_id, query, settings[dataset_id], admitted[dataset_id])
            for dataset_id in dataset_ids
            if dataset_id in datasets
        ]
        hits = [hit for found in await asyncio.gather(*searches) for hit in found]
        allowed = {document_id for ids in admitted.values() for document_id in ids}
        async with self._db.session() as session:
            found = await repo.segments_with_documents(session, [h.segment_id for h in hits])
            results: list[RetrievedChunk] = []
            for hit in hits:
                pair = found.get(hit.segment_id)
                if pair is None:
                    continue
                segment, owner = pair
                if not segment.enabled or segment.status != "completed":
                    continue
                source = datasets.get(segment.dataset_id)
                if owner.id not in allowed or source is None:
                    continue
                results.append(RetrievedChunk(segment, owner, source, float(hit.score)))
            results.sort(key=lambda r: r.score, reverse=True)
            if count_hits and results:
                await repo.add_hits(session, [r.segment.id for r in results])
        return results

    # -- helpers -----------------------------------------------------------------------

    async def _views(self, session: Any, rows: Sequence[Dataset]) -> list[DatasetView]:
        ids = [row.id for row in rows]
        counts = await repo.dataset_counts(session, ids)
        apps = await repo.app_counts(session, ids)
        tags = await repo.dataset_tags(session, ids)
        views: list[DatasetView] = []
        for row in rows:
            documents, words, available = counts.get(row.id, (0, 0, 0))
            views.append(
                DatasetView(
                    row=row,
                    document_count=documents,
                    word_count=words,
                    available_documents=available,
                    app_count=apps.get(row.id, 0),
                    tags=tuple(tags.get(row.id, ())),
                    fields=tuple(await repo.metadata_fields(session, row.id)),
                )
            )
        return views


def effective_retrieval(dataset: Dataset) -> dict[str, Any]:
    """The dataset's retrieval settings as Dify reports them (`retrieval_model_dict`);
    economy datasets always search by keyword, as in Dify."""
    raw = {**default_retrieval_model(), **(dataset.retrieval_model or {})}
    if dataset.indexing_technique == "economy":
        raw["search_method"] = "keyword_search"
    return raw


def settings_for(dataset: Dataset, raw: Mapping[str, Any]) -> RetrievalSettings:
    merged = {**default_retrieval_model(), **raw}
    if dataset.indexing_technique == "economy":
        merged["search_method"] = "keyword_search"
    try:
        return RetrievalSettings.from_dify(merged)
    except ValueError as exc:
        raise InvalidRequest(f"retrieval_model: {exc}") from None


def _checked_retrieval_model(raw: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidRequest("retrieval_model: must be an object")
    method = raw.get("search_method", "hybrid_search")
    if method not in SEARCH_METHODS:
        raise InvalidRequest(f"Retrieval method {method} is not supported")
    top_k = raw.get("top_k", 4)
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise InvalidRequest("retrieval_model.top_k: must be a positive integer")
    threshold = raw.get("score_threshold")
    if threshold is not None and not isinstance(threshold, int | float):
        raise InvalidRequest("retrieval_model.score_threshold: must be a number")
    mode = raw.get("reranking_mode")
    if mode not in (None, "reranking_model", "weighted_score"):
        raise InvalidRequest(f"retrieval_model.reranking_mode: {mode} is not supported")
    return dict(raw)


def _check_technique(technique: Any) -> None:
    if technique is not None and technique not in INDEXING_TECHNIQUES:
        raise InvalidRequest("Indexing technique is invalid")


def _batch_id() -> str:
    # Dify's batch ids are a timestamp plus random digits.
    return time.strftime("%Y%m%d%H%M%S") + str(uuid.uuid4().int)[:6]


def _indexed_text(segment: DatasetSegment) -> str:
    if segment.answer:
        return f"{segment.content}\n{segment.answer}"
    return segment.content


def _measure(segment: DatasetSegment) -> None:
    text = _indexed_text(segment)
    segment.word_count = splitter.count_words(text)
    segment.tokens = splitter.count_tokens(text)
    segment.index_node_hash = _hash(text)


def _hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _new_segment(
    document: DatasetDocument, position: int, item: Mapping[str, Any]
) -> DatasetSegment:
    segment = DatasetSegment(
        id=str(uuid.uuid4()),
        dataset_id=document.dataset_id,
        document_id=document.id,
        position=position,
        content=str(item.get("content") or ""),
        answer=str(item["answer"]) if item.get("answer") else None,
        keywords=[str(k) for k in item.get("keywords") or []],
        status="waiting",
        indexing_at=utcnow(),
    )
    _measure(segment)
    return segment
