"""`client.knowledge`: Dify's Knowledge API (use a `dataset-...` key for the client).

    kb = Client(base_url, "dataset-...").knowledge
    dataset = kb.datasets.create("handbook", indexing_technique="high_quality")
    created = kb.documents.create_by_text(dataset.id, name="leave.md", text="...")
    kb.documents.wait(dataset.id, created.batch)
    for record in kb.datasets.retrieve(dataset.id, "annual leave").records: ...

Each group (`datasets`, `documents`, `segments`, `metadata`, `tags`) has a sync and an
async class over the same operation builders.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from .._base import FileInput, Operation, body, file_part, parse_json, parse_none
from .._knowledge_models import (
    BoundTags,
    BuiltInFields,
    CreatedDocument,
    CreatedSegments,
    Dataset,
    DatasetList,
    Document,
    DocumentAction,
    DocumentList,
    IndexingStatus,
    IndexingStatusList,
    KnowledgeTag,
    MetadataField,
    MetadataFieldList,
    MetadataType,
    RetrievalResult,
    SegmentList,
    SegmentResponse,
)
from .._models import Result
from ._resource import AsyncRequester, SyncRequester

JSON = Mapping[str, Any]


def _tags(response: httpx.Response) -> list[KnowledgeTag]:
    return [KnowledgeTag.model_validate(item) for item in response.json()]


# -- operation builders ---------------------------------------------------------------------


def _dataset_create(name: str, fields: dict[str, Any]) -> Operation[Dataset]:
    return Operation("POST", "/datasets", parse_json(Dataset), json=body(name=name, **fields))


def _dataset_list(
    page: int | None, limit: int | None, keyword: str | None, tag_ids: Sequence[str]
) -> Operation[DatasetList]:
    params: dict[str, Any] = {"page": page, "limit": limit, "keyword": keyword}
    if tag_ids:
        params["tag_ids"] = ",".join(tag_ids) if len(tag_ids) > 1 else tag_ids[0]
    return Operation("GET", "/datasets", parse_json(DatasetList), params=params)


def _dataset_get(dataset_id: str) -> Operation[Dataset]:
    return Operation("GET", f"/datasets/{dataset_id}", parse_json(Dataset))


def _dataset_update(dataset_id: str, fields: dict[str, Any]) -> Operation[Dataset]:
    return Operation("PATCH", f"/datasets/{dataset_id}", parse_json(Dataset), json=body(**fields))


def _dataset_delete(dataset_id: str) -> Operation[None]:
    return Operation("DELETE", f"/datasets/{dataset_id}", parse_none)


def _retrieve(
    dataset_id: str, query: str, retrieval_model: JSON | None
) -> Operation[RetrievalResult]:
    payload = body(query=query, retrieval_model=dict(retrieval_model) if retrieval_model else None)
    path = f"/datasets/{dataset_id}/retrieve"
    return Operation("POST", path, parse_json(RetrievalResult), json=payload)


def _by_text(
    dataset_id: str, name: str, text: str, fields: dict[str, Any]
) -> Operation[CreatedDocument]:
    path = f"/datasets/{dataset_id}/document/create-by-text"
    payload = body(name=name, text=text, **fields)
    return Operation("POST", path, parse_json(CreatedDocument), json=payload)


def _by_file(
    dataset_id: str, file: FileInput, fields: dict[str, Any], document_id: str | None = None
) -> Operation[CreatedDocument]:
    path = (
        f"/datasets/{dataset_id}/documents/{document_id}/update-by-file"
        if document_id
        else f"/datasets/{dataset_id}/document/create-by-file"
    )
    data = {"data": json.dumps(body(**fields))}
    return Operation(
        "POST", path, parse_json(CreatedDocument), data=data, files={"file": file_part(file)}
    )


def _update_text(
    dataset_id: str, document_id: str, fields: dict[str, Any]
) -> Operation[CreatedDocument]:
    path = f"/datasets/{dataset_id}/documents/{document_id}/update-by-text"
    return Operation("POST", path, parse_json(CreatedDocument), json=body(**fields))


def _documents(
    dataset_id: str, page: int | None, limit: int | None, keyword: str | None, status: str | None
) -> Operation[DocumentList]:
    params = {"page": page, "limit": limit, "keyword": keyword, "status": status}
    path = f"/datasets/{dataset_id}/documents"
    return Operation("GET", path, parse_json(DocumentList), params=params)


def _document(dataset_id: str, document_id: str, metadata: str | None) -> Operation[Document]:
    path = f"/datasets/{dataset_id}/documents/{document_id}"
    return Operation("GET", path, parse_json(Document), params={"metadata": metadata})


def _document_delete(dataset_id: str, document_id: str) -> Operation[None]:
    return Operation("DELETE", f"/datasets/{dataset_id}/documents/{document_id}", parse_none)


def _status(dataset_id: str, batch: str) -> Operation[IndexingStatusList]:
    path = f"/datasets/{dataset_id}/documents/{batch}/indexing-status"
    return Operation("GET", path, parse_json(IndexingStatusList))


def _set_status(
    dataset_id: str, action: DocumentAction, document_ids: Sequence[str]
) -> Operation[Result]:
    path = f"/datasets/{dataset_id}/documents/status/{action}"
    payload = {"document_ids": list(document_ids)}
    return Operation("PATCH", path, parse_json(Result), json=payload)


def _segments_path(dataset_id: str, document_id: str) -> str:
    return f"/datasets/{dataset_id}/documents/{document_id}/segments"


def _segments(
    dataset_id: str,
    document_id: str,
    page: int | None,
    limit: int | None,
    keyword: str | None,
    status: str | None,
) -> Operation[SegmentList]:
    params = {"page": page, "limit": limit, "keyword": keyword, "status": status}
    path = _segments_path(dataset_id, document_id)
    return Operation("GET", path, parse_json(SegmentList), params=params)


def _segments_create(
    dataset_id: str, document_id: str, segments: Sequence[JSON]
) -> Operation[CreatedSegments]:
    payload = {"segments": [dict(s) for s in segments]}
    path = _segments_path(dataset_id, document_id)
    return Operation("POST", path, parse_json(CreatedSegments), json=payload)


def _segment(dataset_id: str, document_id: str, segment_id: str) -> Operation[SegmentResponse]:
    path = f"{_segments_path(dataset_id, document_id)}/{segment_id}"
    return Operation("GET", path, parse_json(SegmentResponse))


def _segment_update(
    dataset_id: str, document_id: str, segment_id: str, fields: dict[str, Any]
) -> Operation[SegmentResponse]:
    path = f"{_segments_path(dataset_id, document_id)}/{segment_id}"
    return Operation("POST", path, parse_json(SegmentResponse), json={"segment": body(**fields)})


def _segment_delete(dataset_id: str, document_id: str, segment_id: str) -> Operation[None]:
    path = f"{_segments_path(dataset_id, document_id)}/{segment_id}"
    return Operation("DELETE", path, parse_none)


def _field_create(dataset_id: str, type_: MetadataType, name: str) -> Operation[MetadataField]:
    payload = {"type": type_, "name": name}
    return Operation(
        "POST", f"/datasets/{dataset_id}/metadata", parse_json(MetadataField), json=payload
    )


def _fields(dataset_id: str) -> Operation[MetadataFieldList]:
    return Operation("GET", f"/datasets/{dataset_id}/metadata", parse_json(MetadataFieldList))


def _field_rename(dataset_id: str, field_id: str, name: str) -> Operation[MetadataField]:
    path = f"/datasets/{dataset_id}/metadata/{field_id}"
    return Operation("PATCH", path, parse_json(MetadataField), json={"name": name})


def _field_delete(dataset_id: str, field_id: str) -> Operation[None]:
    return Operation("DELETE", f"/datasets/{dataset_id}/metadata/{field_id}", parse_none)


def _built_in(dataset_id: str) -> Operation[BuiltInFields]:
    path = f"/datasets/{dataset_id}/metadata/built-in"
    return Operation("GET", path, parse_json(BuiltInFields))


def _built_in_switch(dataset_id: str, enabled: bool) -> Operation[Result]:
    action = "enable" if enabled else "disable"
    path = f"/datasets/{dataset_id}/metadata/built-in/{action}"
    return Operation("POST", path, parse_json(Result))


def _document_values(
    dataset_id: str, document_id: str, values: Mapping[str, Any], fields: Sequence[MetadataField]
) -> Operation[Result]:
    by_name = {f.name: f for f in fields}
    items = [
        {"id": by_name[name].id if name in by_name else "", "name": name, "value": value}
        for name, value in values.items()
    ]
    payload = {"operation_data": [{"document_id": document_id, "metadata_list": items}]}
    path = f"/datasets/{dataset_id}/documents/metadata"
    return Operation("POST", path, parse_json(Result), json=payload)


def _tag_list() -> Operation[list[KnowledgeTag]]:
    return Operation("GET", "/datasets/tags", _tags)


def _tag_create(name: str) -> Operation[KnowledgeTag]:
    return Operation("POST", "/datasets/tags", parse_json(KnowledgeTag), json={"name": name})


def _tag_rename(tag_id: str, name: str) -> Operation[KnowledgeTag]:
    payload = {"tag_id": tag_id, "name": name}
    return Operation("PATCH", "/datasets/tags", parse_json(KnowledgeTag), json=payload)


def _tag_delete(tag_id: str) -> Operation[None]:
    return Operation("DELETE", "/datasets/tags", parse_none, json={"tag_id": tag_id})


def _tag_bind(dataset_id: str, tag_ids: Sequence[str], bind: bool) -> Operation[None]:
    path = "/datasets/tags/binding" if bind else "/datasets/tags/unbinding"
    payload = {"tag_ids": list(tag_ids), "target_id": dataset_id}
    return Operation("POST", path, parse_none, json=payload)


def _bound(dataset_id: str) -> Operation[BoundTags]:
    return Operation("GET", f"/datasets/{dataset_id}/tags", parse_json(BoundTags))


def _options(
    indexing_technique: str | None,
    process_rule: JSON | None,
    retrieval_model: JSON | None,
    doc_form: str | None = None,
    doc_language: str | None = None,
) -> dict[str, Any]:
    return {
        "indexing_technique": indexing_technique,
        "process_rule": dict(process_rule) if process_rule else None,
        "retrieval_model": dict(retrieval_model) if retrieval_model else None,
        "doc_form": doc_form,
        "doc_language": doc_language,
    }


def _done(statuses: IndexingStatusList) -> bool:
    return bool(statuses.data) and all(s.done for s in statuses.data)


# -- sync -----------------------------------------------------------------------------------


class Datasets:
    def __init__(self, client: SyncRequester) -> None:
        self._client = client

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        indexing_technique: str | None = None,
        permission: str | None = None,
        retrieval_model: JSON | None = None,
    ) -> Dataset:
        fields = {
            "description": description,
            "indexing_technique": indexing_technique,
            "permission": permission,
            "retrieval_model": dict(retrieval_model) if retrieval_model else None,
        }
        return self._client.request(_dataset_create(name, fields))

    def list(
        self,
        *,
        page: int | None = None,
        limit: int | None = None,
        keyword: str | None = None,
        tag_ids: Sequence[str] = (),
    ) -> DatasetList:
        return self._client.request(_dataset_list(page, limit, keyword, tag_ids))

    def get(self, dataset_id: str) -> Dataset:
        return self._client.request(_dataset_get(dataset_id))

    def update(self, dataset_id: str, **fields: Any) -> Dataset:
        """Change only the given fields (name, description, indexing_technique,
        permission, retrieval_model, embedding_model, embedding_model_provider)."""
        return self._client.request(_dataset_update(dataset_id, fields))

    def delete(self, dataset_id: str) -> None:
        self._client.request(_dataset_delete(dataset_id))

    def retrieve(
        self, dataset_id: str, query: str, *, retrieval_model: JSON | None = None
    ) -> RetrievalResult:
        """Search the dataset (its own settings unless `retrieval_model` is given)."""
        return self._client.request(_retrieve(dataset_id, query, retrieval_model))


class Documents:
    def __init__(self, client: SyncRequester) -> None:
        self._client = client

    def create_by_text(
        self,
        dataset_id: str,
        *,
        name: str,
        text: str,
        indexing_technique: str | None = "high_quality",
        process_rule: JSON | None = None,
        retrieval_model: JSON | None = None,
    ) -> CreatedDocument:
        fields = _options(indexing_technique, process_rule, retrieval_model)
        return self._client.request(_by_text(dataset_id, name, text, fields))

    def create_by_file(
        self,
        dataset_id: str,
        file: FileInput,
        *,
        indexing_technique: str | None = "high_quality",
        process_rule: JSON | None = None,
        retrieval_model: JSON | None = None,
    ) -> CreatedDocument:
        fields = _options(
            indexing_technique, process_rule or {"mode": "automatic"}, retrieval_model
        )
        return self._client.request(_by_file(dataset_id, file, fields))

    def update_by_text(
        self,
        dataset_id: str,
        document_id: str,
        *,
        name: str | None = None,
        text: str | None = None,
        process_rule: JSON | None = None,
    ) -> CreatedDocument:
        fields = {"name": name, "text": text, "process_rule": process_rule}
        return self._client.request(_update_text(dataset_id, document_id, fields))

    def update_by_file(
        self,
        dataset_id: str,
        document_id: str,
        file: FileInput,
        *,
        process_rule: JSON | None = None,
    ) -> CreatedDocument:
        fields = {"process_rule": dict(process_rule) if process_rule else None}
        return self._client.request(_by_file(dataset_id, file, fields, document_id))

    def list(
        self,
        dataset_id: str,
        *,
        page: int | None = None,
        limit: int | None = None,
        keyword: str | None = None,
        status: str | None = None,
    ) -> DocumentList:
        return self._client.request(_documents(dataset_id, page, limit, keyword, status))

    def get(self, dataset_id: str, document_id: str, *, metadata: str | None = None) -> Document:
        return self._client.request(_document(dataset_id, document_id, metadata))

    def delete(self, dataset_id: str, document_id: str) -> None:
        self._client.request(_document_delete(dataset_id, document_id))

    def indexing_status(self, dataset_id: str, batch: str) -> builtins.list[IndexingStatus]:
        return self._client.request(_status(dataset_id, batch)).data

    def wait(
        self, dataset_id: str, batch: str, *, timeout: float = 300.0, poll: float = 0.5
    ) -> builtins.list[IndexingStatus]:
        """Poll the batch until every document is indexed or failed."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self._client.request(_status(dataset_id, batch))
            if _done(statuses) or time.monotonic() > deadline:
                return statuses.data
            time.sleep(poll)

    def set_status(
        self, dataset_id: str, action: DocumentAction, document_ids: Sequence[str]
    ) -> Result:
        """enable, disable, archive or un_archive documents."""
        return self._client.request(_set_status(dataset_id, action, document_ids))


class Segments:
    def __init__(self, client: SyncRequester) -> None:
        self._client = client

    def list(
        self,
        dataset_id: str,
        document_id: str,
        *,
        page: int | None = None,
        limit: int | None = None,
        keyword: str | None = None,
        status: str | None = None,
    ) -> SegmentList:
        op = _segments(dataset_id, document_id, page, limit, keyword, status)
        return self._client.request(op)

    def create(
        self, dataset_id: str, document_id: str, segments: Sequence[JSON]
    ) -> CreatedSegments:
        """Add chunks: `[{"content": ..., "answer": ..., "keywords": [...]}]`."""
        return self._client.request(_segments_create(dataset_id, document_id, segments))

    def get(self, dataset_id: str, document_id: str, segment_id: str) -> SegmentResponse:
        return self._client.request(_segment(dataset_id, document_id, segment_id))

    def update(
        self, dataset_id: str, document_id: str, segment_id: str, **fields: Any
    ) -> SegmentResponse:
        """content, answer, keywords, enabled."""
        return self._client.request(_segment_update(dataset_id, document_id, segment_id, fields))

    def delete(self, dataset_id: str, document_id: str, segment_id: str) -> None:
        self._client.request(_segment_delete(dataset_id, document_id, segment_id))


class Metadata:
    def __init__(self, client: SyncRequester) -> None:
        self._client = client

    def create(self, dataset_id: str, *, type: MetadataType, name: str) -> MetadataField:
        return self._client.request(_field_create(dataset_id, type, name))

    def list(self, dataset_id: str) -> MetadataFieldList:
        return self._client.request(_fields(dataset_id))

    def rename(self, dataset_id: str, field_id: str, name: str) -> MetadataField:
        return self._client.request(_field_rename(dataset_id, field_id, name))

    def delete(self, dataset_id: str, field_id: str) -> None:
        self._client.request(_field_delete(dataset_id, field_id))

    def built_in(self, dataset_id: str) -> BuiltInFields:
        return self._client.request(_built_in(dataset_id))

    def set_built_in(self, dataset_id: str, enabled: bool) -> Result:
        return self._client.request(_built_in_switch(dataset_id, enabled))

    def set_values(self, dataset_id: str, document_id: str, values: Mapping[str, Any]) -> Result:
        """A document's metadata values by field name (they replace the old ones)."""
        fields = self._client.request(_fields(dataset_id)).doc_metadata
        return self._client.request(_document_values(dataset_id, document_id, values, fields))


class Tags:
    def __init__(self, client: SyncRequester) -> None:
        self._client = client

    def list(self) -> list[KnowledgeTag]:
        return self._client.request(_tag_list())

    def create(self, name: str) -> KnowledgeTag:
        return self._client.request(_tag_create(name))

    def rename(self, tag_id: str, name: str) -> KnowledgeTag:
        return self._client.request(_tag_rename(tag_id, name))

    def delete(self, tag_id: str) -> None:
        self._client.request(_tag_delete(tag_id))

    def bind(self, dataset_id: str, tag_ids: Sequence[str]) -> None:
        self._client.request(_tag_bind(dataset_id, tag_ids, True))

    def unbind(self, dataset_id: str, tag_ids: Sequence[str]) -> None:
        self._client.request(_tag_bind(dataset_id, tag_ids, False))

    def of_dataset(self, dataset_id: str) -> BoundTags:
        return self._client.request(_bound(dataset_id))


class Knowledge:
    """`client.knowledge`: the Knowledge API groups."""

    def __init__(self, client: SyncRequester) -> None:
        self.datasets = Datasets(client)
        self.documents = Documents(client)
        self.segments = Segments(client)
        self.metadata = Metadata(client)
        self.tags = Tags(client)


# -- async ----------------------------------------------------------------------------------


class AsyncDatasets:
    def __init__(self, client: AsyncRequester) -> None:
        self._client = client

    async def create(
        self,
        name: str,
        *,
        description: str | None = None,
        indexing_technique: str | None = None,
        permission: str | None = None,
        retrieval_model: JSON | None = None,
    ) -> Dataset:
        fields = {
            "description": description,
            "indexing_technique": indexing_technique,
            "permission": permission,
            "retrieval_model": dict(retrieval_model) if retrieval_model else None,
        }
        return await self._client.request(_dataset_create(name, fields))

    async def list(
        self,
        *,
        page: int | None = None,
        limit: int | None = None,
        keyword: str | None = None,
        tag_ids: Sequence[str] = (),
    ) -> DatasetList:
        return await self._client.request(_dataset_list(page, limit, keyword, tag_ids))

    async def get(self, dataset_id: str) -> Dataset:
        return await self._client.request(_dataset_get(dataset_id))

    async def update(self, dataset_id: str, **fields: Any) -> Dataset:
        return await self._client.request(_dataset_update(dataset_id, fields))

    async def delete(self, dataset_id: str) -> None:
        await self._client.request(_dataset_delete(dataset_id))

    async def retrieve(
        self, dataset_id: str, query: str, *, retrieval_model: JSON | None = None
    ) -> RetrievalResult:
        return await self._client.request(_retrieve(dataset_id, query, retrieval_model))


class AsyncDocuments:
    def __init__(self, client: AsyncRequester) -> None:
        self._client = client

    async def create_by_text(
        self,
        dataset_id: str,
        *,
        name: str,
        text: str,
        indexing_technique: str | None = "high_quality",
        process_rule: JSON | None = None,
        retrieval_model: JSON | None = None,
    ) -> CreatedDocument:
        fields = _options(indexing_technique, process_rule, retrieval_model)
        return await self._client.request(_by_text(dataset_id, name, text, fields))

    async def create_by_file(
        self,
        dataset_id: str,
        file: FileInput,
        *,
        indexing_technique: str | None = "high_quality",
        process_rule: JSON | None = None,
        retrieval_model: JSON | None = None,
    ) -> CreatedDocument:
        fields = _options(
            indexing_technique, process_rule or {"mode": "automatic"}, retrieval_model
        )
        return await self._client.request(_by_file(dataset_id, file, fields))

    async def update_by_text(
        self,
        dataset_id: str,
        document_id: str,
        *,
        name: str | None = None,
        text: str | None = None,
        process_rule: JSON | None = None,
    ) -> CreatedDocument:
        fields = {"name": name, "text": text, "process_rule": process_rule}
        return await self._client.request(_update_text(dataset_id, document_id, fields))

    async def update_by_file(
        self,
        dataset_id: str,
        document_id: str,
        file: FileInput,
        *,
        process_rule: JSON | None = None,
    ) -> CreatedDocument:
        fields = {"process_rule": dict(process_rule) if process_rule else None}
        return await self._client.request(_by_file(dataset_id, file, fields, document_id))

    async def list(
        self,
        dataset_id: str,
        *,
        page: int | None = None,
        limit: int | None = None,
        keyword: str | None = None,
        status: str | None = None,
    ) -> DocumentList:
        return await self._client.request(_documents(dataset_id, page, limit, keyword, status))

    async def get(
        self, dataset_id: str, document_id: str, *, metadata: str | None = None
    ) -> Document:
        return await self._client.request(_document(dataset_id, document_id, metadata))

    async def delete(self, dataset_id: str, document_id: str) -> None:
        await self._client.request(_document_delete(dataset_id, document_id))

    async def indexing_status(self, dataset_id: str, batch: str) -> builtins.list[IndexingStatus]:
        return (await self._client.request(_status(dataset_id, batch))).data

    async def wait(
        self,
        dataset_id: str,
        batch: str,
        *,
        timeout: float = 300.0,  # noqa: ASYNC109
        poll: float = 0.5,
    ) -> builtins.list[IndexingStatus]:
        deadline = time.monotonic() + timeout
        while True:
            statuses = await self._client.request(_status(dataset_id, batch))
            if _done(statuses) or time.monotonic() > deadline:
                return statuses.data
            await asyncio.sleep(poll)

    async def set_status(
        self, dataset_id: str, action: DocumentAction, document_ids: Sequence[str]
    ) -> Result:
        return await self._client.request(_set_status(dataset_id, action, document_ids))


class AsyncSegments:
    def __init__(self, client: AsyncRequester) -> None:
        self._client = client

    async def list(
        self,
        dataset_id: str,
        document_id: str,
        *,
        page: int | None = None,
        limit: int | None = None,
        keyword: str | None = None,
        status: str | None = None,
    ) -> SegmentList:
        op = _segments(dataset_id, document_id, page, limit, keyword, status)
        return await self._client.request(op)

    async def create(
        self, dataset_id: str, document_id: str, segments: Sequence[JSON]
    ) -> CreatedSegments:
        return await self._client.request(_segments_create(dataset_id, document_id, segments))

    async def get(self, dataset_id: str, document_id: str, segment_id: str) -> SegmentResponse:
        return await self._client.request(_segment(dataset_id, document_id, segment_id))

    async def update(
        self, dataset_id: str, document_id: str, segment_id: str, **fields: Any
    ) -> SegmentResponse:
        op = _segment_update(dataset_id, document_id, segment_id, fields)
        return await self._client.request(op)

    async def delete(self, dataset_id: str, document_id: str, segment_id: str) -> None:
        await self._client.request(_segment_delete(dataset_id, document_id, segment_id))


class AsyncMetadata:
    def __init__(self, client: AsyncRequester) -> None:
        self._client = client

    async def create(self, dataset_id: str, *, type: MetadataType, name: str) -> MetadataField:
        return await self._client.request(_field_create(dataset_id, type, name))

    async def list(self, dataset_id: str) -> MetadataFieldList:
        return await self._client.request(_fields(dataset_id))

    async def rename(self, dataset_id: str, field_id: str, name: str) -> MetadataField:
        return await self._client.request(_field_rename(dataset_id, field_id, name))

    async def delete(self, dataset_id: str, field_id: str) -> None:
        await self._client.request(_field_delete(dataset_id, field_id))

    async def built_in(self, dataset_id: str) -> BuiltInFields:
        return await self._client.request(_built_in(dataset_id))

    async def set_built_in(self, dataset_id: str, enabled: bool) -> Result:
        return await self._client.request(_built_in_switch(dataset_id, enabled))

    async def set_values(
        self, dataset_id: str, document_id: str, values: Mapping[str, Any]
    ) -> Result:
        fields = (await self._client.request(_fields(dataset_id))).doc_metadata
        op = _document_values(dataset_id, document_id, values, fields)
        return await self._client.request(op)


class AsyncTags:
    def __init__(self, client: AsyncRequester) -> None:
        self._client = client

    async def list(self) -> list[KnowledgeTag]:
        return await self._client.request(_tag_list())

    async def create(self, name: str) -> KnowledgeTag:
        return await self._client.request(_tag_create(name))

    async def rename(self, tag_id: str, name: str) -> KnowledgeTag:
        return await self._client.request(_tag_rename(tag_id, name))

    async def delete(self, tag_id: str) -> None:
        await self._client.request(_tag_delete(tag_id))

    async def bind(self, dataset_id: str, tag_ids: Sequence[str]) -> None:
        await self._client.request(_tag_bind(dataset_id, tag_ids, True))

    async def unbind(self, dataset_id: str, tag_ids: Sequence[str]) -> None:
        await self._client.request(_tag_bind(dataset_id, tag_ids, False))

    async def of_dataset(self, dataset_id: str) -> BoundTags:
        return await self._client.request(_bound(dataset_id))


class AsyncKnowledge:
    """`async_client.knowledge`: the Knowledge API groups."""

    def __init__(self, client: AsyncRequester) -> None:
        self.datasets = AsyncDatasets(client)
        self.documents = AsyncDocuments(client)
        self.segments = AsyncSegments(client)
        self.metadata = AsyncMetadata(client)
        self.tags = AsyncTags(client)
