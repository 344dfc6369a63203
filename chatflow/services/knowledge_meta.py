"""Knowledge metadata fields (and documents' values) and knowledge tags.

Dify keeps a document's metadata values as a JSON object keyed by field name; renaming
or deleting a field rewrites those objects. Tags are global (Dify's `knowledge` tags) and
bound to datasets.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from chatflow.errors import InvalidRequest, NotFound
from chatflow.services.knowledge_rows import BUILT_IN_FIELDS, dataset_or_404, document_or_404
from chatflow.store import Database
from chatflow.store import knowledge as repo
from chatflow.store._types import utcnow
from chatflow.store.knowledge_models import Dataset, DatasetMetadataField, KnowledgeTag

METADATA_TYPES = ("string", "number", "time")


class MetadataService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_field(self, dataset_id: str, type_: str, name: str) -> DatasetMetadataField:
        name = (name or "").strip()
        if type_ not in METADATA_TYPES:
            raise InvalidRequest(f"Invalid metadata type: {type_}")
        if not name or len(name) > 255:
            raise InvalidRequest("Metadata name cannot exceed 255 characters.")
        if name in dict(BUILT_IN_FIELDS):
            raise InvalidRequest("Metadata name already exists in Built-in fields.")
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            if any(f.name == name for f in await repo.metadata_fields(session, dataset_id)):
                raise InvalidRequest("Metadata name already exists.")
            field = DatasetMetadataField(dataset_id=dataset_id, name=name, type=type_)
            session.add(field)
            await session.flush()
        return field

    async def fields(
        self, dataset_id: str
    ) -> tuple[Dataset, list[tuple[DatasetMetadataField, int]]]:
        """The fields with how many documents set each."""
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            fields = await repo.metadata_fields(session, dataset_id)
            documents = await repo.dataset_documents_with_metadata(session, dataset_id)
        counts = {f.name: 0 for f in fields}
        for document in documents:
            for name in (document.doc_metadata or {}).keys():
                if name in counts:
                    counts[name] += 1
        return dataset, [(f, counts[f.name]) for f in fields]

    async def rename_field(self, dataset_id: str, field_id: str, name: str) -> DatasetMetadataField:
        name = (name or "").strip()
        if not name or len(name) > 255:
            raise InvalidRequest("Metadata name cannot exceed 255 characters.")
        if name in dict(BUILT_IN_FIELDS):
            raise InvalidRequest("Metadata name already exists in Built-in fields.")
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            field = await repo.metadata_field(session, dataset_id, field_id)
            if field is None:
                raise NotFound("Metadata not found.")
            fields = await repo.metadata_fields(session, dataset_id)
            if any(f.name == name and f.id != field.id for f in fields):
                raise InvalidRequest("Metadata name already exists.")
            old = field.name
            field.name = name
            for document in await repo.dataset_documents_with_metadata(session, dataset_id):
                values = dict(document.doc_metadata or {})
                if old in values:
                    values[name] = values.pop(old)
                    document.doc_metadata = values
            await session.flush()
        return field

    async def delete_field(self, dataset_id: str, field_id: str) -> None:
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            field = await repo.metadata_field(session, dataset_id, field_id)
            if field is None:
                raise NotFound("Metadata not found.")
            for document in await repo.dataset_documents_with_metadata(session, dataset_id):
                values = dict(document.doc_metadata or {})
                if values.pop(field.name, None) is not None or field.name in (
                    document.doc_metadata or {}
                ):
                    document.doc_metadata = values or None
            await session.delete(field)

    async def set_built_in(self, dataset_id: str, enabled: bool) -> None:
        async with self._db.session() as session:
            dataset = await dataset_or_404(session, dataset_id)
            dataset.built_in_field_enabled = enabled

    async def set_document_values(
        self, dataset_id: str, operations: Sequence[Mapping[str, Any]]
    ) -> None:
        """POST /documents/metadata: each document's values replace its old ones."""
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            fields = {f.id: f for f in await repo.metadata_fields(session, dataset_id)}
            by_name = {f.name: f for f in fields.values()}
            for operation in operations:
                if not isinstance(operation, Mapping):
                    raise InvalidRequest("operation_data: each item must be an object")
                document = await document_or_404(
                    session, dataset_id, str(operation.get("document_id", ""))
                )
                values: dict[str, Any] = {}
                for item in operation.get("metadata_list") or []:
                    field = fields.get(str(item.get("id", ""))) or by_name.get(
                        str(item.get("name", ""))
                    )
                    if field is None:
                        raise NotFound(f"Metadata not found: {item.get('id') or item.get('name')}")
                    values[field.name] = _metadata_value(field, item.get("value"))
                document.doc_metadata = values or None
                document.updated_at = utcnow()


class TagService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self) -> list[tuple[KnowledgeTag, int]]:
        async with self._db.session() as session:
            return await repo.list_tags(session)

    async def create(self, name: str) -> KnowledgeTag:
        name = (name or "").strip()
        if not name or len(name) > 50:
            raise InvalidRequest("Tag name must be between 1 to 50 characters.")
        try:
            async with self._db.session() as session:
                tag = KnowledgeTag(name=name)
                session.add(tag)
                await session.flush()
        except IntegrityError:
            raise InvalidRequest("Tag name already exists") from None
        return tag

    async def rename(self, tag_id: str, name: str) -> tuple[KnowledgeTag, int]:
        name = (name or "").strip()
        if not name or len(name) > 50:
            raise InvalidRequest("Tag name must be between 1 to 50 characters.")
        try:
            async with self._db.session() as session:
                tag = await session.get(KnowledgeTag, tag_id)
                if tag is None:
                    raise NotFound("Tag not found.")
                tag.name = name
                await session.flush()
                count = await repo.tag_binding_count(session, tag_id)
        except IntegrityError:
            raise InvalidRequest("Tag name already exists") from None
        return tag, count

    async def delete(self, tag_id: str) -> None:
        async with self._db.session() as session:
            tag = await session.get(KnowledgeTag, tag_id)
            if tag is None:
                raise NotFound("Tag not found.")
            await session.delete(tag)

    async def bind(self, dataset_id: str, tag_ids: Sequence[str]) -> None:
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            for tag_id in tag_ids:
                if await session.get(KnowledgeTag, tag_id) is None:
                    raise NotFound("Tag not found.")
            await repo.bind_tags(session, dataset_id, tag_ids)

    async def unbind(self, dataset_id: str, tag_ids: Sequence[str]) -> None:
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            await repo.unbind_tags(session, dataset_id, tag_ids)

    async def of_dataset(self, dataset_id: str) -> builtins.list[KnowledgeTag]:
        async with self._db.session() as session:
            await dataset_or_404(session, dataset_id)
            return (await repo.dataset_tags(session, [dataset_id])).get(dataset_id, [])


def _metadata_value(field: DatasetMetadataField, value: Any) -> Any:
    if value is None:
        return None
    if field.type == "number":
        if isinstance(value, bool):
            raise InvalidRequest(f"Metadata {field.name}: must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidRequest(f"Metadata {field.name}: must be a number") from None
        return int(number) if number.is_integer() else number
    if field.type == "time":
        try:
            return int(float(value))
        except (TypeError, ValueError):
            raise InvalidRequest(f"Metadata {field.name}: must be a Unix timestamp") from None
    return str(value)
