"""knowledge.search: a tool (or an agent) searches the knowledge bases mapped to its app,
through the same `KnowledgeBase` as the knowledge-retrieval node, on SQLite and Postgres.
(tests/security/test_dataset_grants.py: what it cannot reach.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatflow.engine.nodes.base import ToolCaller
from chatflow.knowledge.index import ChunkIndex
from chatflow.providers.fake import HashingEmbedder
from chatflow.services.apps import AppService
from chatflow.services.knowledge import KnowledgeService, NewDocument
from chatflow.services.knowledge_base import DatasetKnowledgeBase, map_refs
from chatflow.store import Database
from chatflow.store.storage import LocalFileStorage
from chatflow.tools.base import JsonMessage, ToolError
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService
from tests.store.conftest import Target, target
from tests.tools.conftest import settings, texts

__all__ = ["target"]

APP = """\
app: {mode: workflow, name: gardener}
kind: app
version: 0.3.0
workflow:
  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: end, targetHandle: target}
    nodes:
    - {id: start, data: {type: start, title: Start, variables: []}}
    - {id: end, data: {type: end, title: End, outputs: []}}
"""
PLANTS = (
    "Tomatoes need six hours of direct sunlight a day.\n\n"
    "Basil should be watered when the top inch of soil is dry."
)


@pytest.fixture
async def db(target: Target) -> AsyncIterator[Database]:
    database = target.database()
    await database.connect()
    yield database
    await database.close()


async def runtime_with_dataset(db: Database, tmp_path: Path) -> tuple[ToolRuntimeService, str]:
    """A runtime whose knowledge search reaches the dataset `garden`, the app's grant."""
    knowledge = KnowledgeService(
        db, LocalFileStorage(tmp_path / "uploads"), ChunkIndex(db, HashingEmbedder())
    )
    dataset = await knowledge.create_dataset("garden", indexing_technique="high_quality")
    document = NewDocument("garden.md", PLANTS.encode(), "md", "text/markdown", None)
    await knowledge.create_document(dataset.row.id, document)
    assert await knowledge.ingester.run_once() == 1
    app = await AppService(db).import_dsl(APP)
    assert await map_refs(db, app.app_id, [], {"garden": "garden"}) == []
    return ToolRuntimeService(
        build_registry(settings(tmp_path)),
        services={"knowledge": DatasetKnowledgeBase(db, knowledge)},
    ), app.app_id


async def test_search_by_dataset_name_returns_text_and_dify_items(
    db: Database, tmp_path: Path
) -> None:
    runtime, app_id = await runtime_with_dataset(db, tmp_path)
    params = {"dataset": "garden", "query": "how much sunlight do tomatoes need", "top_k": 1}
    caller = ToolCaller(app_id=app_id, user_id="u", conversation_id="")
    messages = [m async for m in runtime.messages("knowledge", "search", params, caller=caller)]
    assert "six hours of direct sunlight" in texts(messages)
    (items,) = [m.value for m in messages if isinstance(m, JsonMessage)]
    assert len(items) == 1
    assert items[0]["metadata"]["dataset_name"] == "garden"


async def test_unknown_dataset_fails_with_the_mapping_command(db: Database, tmp_path: Path) -> None:
    runtime, app_id = await runtime_with_dataset(db, tmp_path)
    caller = ToolCaller(app_id=app_id, user_id="u", conversation_id="")
    with pytest.raises(ToolError, match="chatflow app import FILE --dataset"):
        params = {"dataset": "no-such-kb", "query": "anything"}
        [m async for m in runtime.messages("dataset_retriever", "search", params, caller=caller)]


async def test_bad_top_k_is_refused(db: Database, tmp_path: Path) -> None:
    runtime, app_id = await runtime_with_dataset(db, tmp_path)
    caller = ToolCaller(app_id=app_id, user_id="u", conversation_id="")
    with pytest.raises(ToolError, match="top_k"):
        params = {"dataset": "garden", "query": "basil", "top_k": "many"}
        [m async for m in runtime.messages("knowledge", "search", params, caller=caller)]
