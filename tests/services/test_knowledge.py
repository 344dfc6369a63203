"""`KnowledgeService` over in-memory SQLite (no ingester: documents are marked completed
by hand): segments added by hand are searchable at once, disabled or deleted ones are
not, segments go only into completed and enabled documents, and retrieval checks its
query."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from chatflow.errors import InvalidRequest, NotFound
from chatflow.services import Services
from chatflow.services.knowledge import NewDocument
from chatflow.store.knowledge_models import DatasetDocument


async def _completed_document(services: Services) -> tuple[str, str]:
    knowledge = services.knowledge
    dataset = await knowledge.create_dataset("kb", indexing_technique="economy")
    new = NewDocument("d.txt", b"seed", "txt", "text/plain", None)
    document, _ = await knowledge.create_document(dataset.row.id, new)
    with pytest.raises(NotFound, match="not completed"):
        await knowledge.create_segments(dataset.row.id, document.id, [{"content": "x"}])
    async with services.db.session() as session:
        await session.execute(
            update(DatasetDocument)
            .where(DatasetDocument.id == document.id)
            .values(indexing_status="completed")
        )
    return dataset.row.id, document.id


async def test_segments_are_searchable_at_once_and_until_disabled_or_deleted(
    services: Services,
) -> None:
    knowledge = services.knowledge
    dataset_id, document_id = await _completed_document(services)
    _, segments = await knowledge.create_segments(
        dataset_id,
        document_id,
        [
            {"content": "Penguins live in Antarctica and eat krill."},
            {"content": "The Eiffel Tower is in Paris."},
        ],
    )
    penguins, tower = segments
    hits = await knowledge.retrieve(dataset_id, "penguins krill")
    assert hits and hits[0].segment.id == penguins.id
    assert hits[0].document.id == document_id and hits[0].dataset.id == dataset_id

    await knowledge.update_segment(dataset_id, document_id, penguins.id, {"enabled": False})
    assert penguins.id not in {
        h.segment.id for h in await knowledge.retrieve(dataset_id, "penguins krill")
    }
    await knowledge.delete_segment(dataset_id, document_id, tower.id)
    assert tower.id not in {
        h.segment.id for h in await knowledge.retrieve(dataset_id, "Eiffel Paris")
    }
    with pytest.raises(NotFound):
        await knowledge.get_segment(dataset_id, document_id, tower.id)


async def test_bad_segments_and_queries_are_refused(services: Services) -> None:
    knowledge = services.knowledge
    dataset_id, document_id = await _completed_document(services)
    for items in ([{"content": "  "}], [{}], ["text"]):
        with pytest.raises(InvalidRequest, match="Content is empty"):
            await knowledge.create_segments(dataset_id, document_id, items)  # type: ignore[arg-type]
    for query in ("", "q" * 300_000):
        with pytest.raises(InvalidRequest):
            await knowledge.retrieve(dataset_id, query)
    with pytest.raises(NotFound):
        await knowledge.retrieve("no-such-dataset", "q")
    await knowledge.set_documents_status(dataset_id, "disable", [document_id])
    with pytest.raises(NotFound, match="disabled"):
        await knowledge.create_segments(dataset_id, document_id, [{"content": "x"}])
