"""Knowledge metadata fields and tags (`knowledge_meta.py`) and the shared row lookups
(`knowledge_rows.py`) over in-memory SQLite: a field's rename and delete rewrite the
values documents hold, values are coerced to the field's type, built-in names are
reserved, tags are unique, counted and bound, and rows are found only under their parent."""

from __future__ import annotations

import pytest

from chatflow.errors import InvalidRequest, NotFound
from chatflow.services import Services
from chatflow.services.knowledge import NewDocument
from chatflow.services.knowledge_rows import (
    BUILT_IN_FIELDS,
    dataset_or_404,
    display_status,
    document_metadata,
    document_or_404,
    segment_or_404,
)
from chatflow.store.knowledge_models import DatasetDocument


async def _dataset_with_documents(
    services: Services, count: int, name: str = "facts"
) -> tuple[str, list[str]]:
    knowledge = services.knowledge
    dataset = await knowledge.create_dataset(name, indexing_technique="economy")
    ids = []
    for i in range(count):
        new = NewDocument(f"d{i}.txt", b"some text", "txt", "text/plain", None)
        document, _ = await knowledge.create_document(dataset.row.id, new)
        ids.append(document.id)
    return dataset.row.id, ids


async def _values(services: Services, document_id: str) -> dict[str, object] | None:
    async with services.db.session() as session:
        document = await session.get(DatasetDocument, document_id)
        assert document is not None
        return document.doc_metadata


async def test_fields_and_document_values(services: Services) -> None:
    meta = services.knowledge.metadata
    dataset_id, (first, second) = await _dataset_with_documents(services, 2)
    author = await meta.create_field(dataset_id, "string", " author ")
    year = await meta.create_field(dataset_id, "number", "year")
    when = await meta.create_field(dataset_id, "time", "when")
    assert author.name == "author"

    await meta.set_document_values(
        dataset_id,
        [
            {"document_id": first, "metadata_list": [
                {"id": author.id, "value": 42},  # a string field keeps text
                {"name": "year", "value": "2024.0"},  # by name; whole numbers become ints
                {"id": when.id, "value": "1700000000.9"},
            ]},
            {"document_id": second, "metadata_list": [{"id": year.id, "value": 2.5}]},
        ],
    )  # fmt: skip
    assert await _values(services, first) == {"author": "42", "year": 2024, "when": 1700000000}
    assert await _values(services, second) == {"year": 2.5}
    _, counted = await meta.fields(dataset_id)
    assert {field.name: n for field, n in counted} == {"author": 1, "year": 2, "when": 1}

    await meta.rename_field(dataset_id, year.id, "published")
    assert await _values(services, first) == {"author": "42", "published": 2024, "when": 1700000000}
    assert await _values(services, second) == {"published": 2.5}
    await meta.delete_field(dataset_id, year.id)
    assert await _values(services, second) is None  # its only value: no object left
    assert await _values(services, first) == {"author": "42", "when": 1700000000}

    # Values replace the old ones; none clears them.
    await meta.set_document_values(dataset_id, [{"document_id": first, "metadata_list": []}])
    assert await _values(services, first) is None


async def test_field_rules(services: Services) -> None:
    meta = services.knowledge.metadata
    dataset_id, [document] = await _dataset_with_documents(services, 1)
    field = await meta.create_field(dataset_id, "number", "year")
    await meta.create_field(dataset_id, "string", "title")
    for type_, name in (
        ("date", "x"),
        ("string", ""),
        ("string", "n" * 256),
        ("string", "uploader"),  # a built-in field
        ("string", "year"),
    ):
        with pytest.raises(InvalidRequest):
            await meta.create_field(dataset_id, type_, name)
    for name in ("title", "document_name", " "):
        with pytest.raises(InvalidRequest):
            await meta.rename_field(dataset_id, field.id, name)
    await meta.rename_field(dataset_id, field.id, "year")  # its own name: fine
    with pytest.raises(NotFound):
        await meta.create_field("no-such-dataset", "string", "x")
    with pytest.raises(NotFound):
        await meta.delete_field(dataset_id, "no-such-field")
    for value in (True, "soon", [1]):
        with pytest.raises(InvalidRequest, match="number"):
            await meta.set_document_values(
                dataset_id,
                [{"document_id": document, "metadata_list": [{"id": field.id, "value": value}]}],
            )
    with pytest.raises(NotFound):
        await meta.set_document_values(
            dataset_id, [{"document_id": document, "metadata_list": [{"name": "nope"}]}]
        )
    with pytest.raises(InvalidRequest):
        await meta.set_document_values(dataset_id, ["not an object"])  # type: ignore[list-item]
    assert await _values(services, document) is None


async def test_tags_are_unique_counted_and_bound(services: Services) -> None:
    tags = services.knowledge.tags
    dataset_id, _ = await _dataset_with_documents(services, 0)
    red = await tags.create(" red ")
    blue = await tags.create("blue")
    assert red.name == "red"
    for bad in ("red", "", "x" * 51):
        with pytest.raises(InvalidRequest):
            await tags.create(bad)
    with pytest.raises(InvalidRequest):
        await tags.rename(blue.id, "red")
    await tags.bind(dataset_id, [red.id, blue.id])
    await tags.bind(dataset_id, [red.id])  # again: still one binding
    assert {t.name for t in await tags.of_dataset(dataset_id)} == {"red", "blue"}
    assert {tag.name: n for tag, n in await tags.list()} == {"red": 1, "blue": 1}
    renamed, count = await tags.rename(red.id, "crimson")
    assert (renamed.name, count) == ("crimson", 1)
    with pytest.raises(NotFound):
        await tags.bind(dataset_id, ["no-such-tag"])
    await tags.unbind(dataset_id, [blue.id])
    assert [t.name for t in await tags.of_dataset(dataset_id)] == ["crimson"]
    await tags.delete(red.id)
    assert await tags.of_dataset(dataset_id) == []
    with pytest.raises(NotFound):
        await tags.delete(red.id)


async def test_rows_seen_by_filters_and_their_display_status(services: Services) -> None:
    """`knowledge_rows`: the values a metadata filter sees (built-in ones only when the
    dataset enables them), Dify's display status, and lookups scoped to their parent."""
    meta = services.knowledge.metadata
    dataset_id, [document_id] = await _dataset_with_documents(services, 1)
    other_id, [other_document] = await _dataset_with_documents(services, 1, "other")
    field = await meta.create_field(dataset_id, "string", "author")
    await meta.set_document_values(
        dataset_id,
        [{"document_id": document_id, "metadata_list": [{"id": field.id, "value": "Ann"}]}],
    )
    async with services.db.session() as session:
        dataset = await dataset_or_404(session, dataset_id)
        document = await document_or_404(session, dataset_id, document_id)
        assert document_metadata(document, dataset) == {"author": "Ann"}
        dataset.built_in_field_enabled = True
        values = document_metadata(document, dataset)
        assert values["author"] == "Ann" and values["document_name"] == "d0.txt"
        assert values["upload_date"] == int(document.created_at.timestamp())
        assert {name for name, _ in BUILT_IN_FIELDS} <= values.keys()
        with pytest.raises(NotFound):
            await document_or_404(session, dataset_id, other_document)  # another dataset's
        with pytest.raises(NotFound):
            await dataset_or_404(session, "nope")
        with pytest.raises(NotFound):
            await segment_or_404(session, document_id, "nope")
        assert other_id != dataset_id

        expected = {
            ("waiting", False, True): "queuing",
            ("paused", False, True): "paused",
            ("splitting", False, True): "indexing",
            ("indexing", True, True): "indexing",
            ("error", True, False): "error",
            ("completed", True, True): "archived",
            ("completed", False, False): "disabled",
            ("completed", False, True): "available",
        }
        for (status, archived, enabled), shown in expected.items():
            document.indexing_status, document.archived, document.enabled = (
                status,
                archived,
                enabled,
            )
            assert display_status(document) == shown, (status, archived, enabled)
        await session.rollback()
