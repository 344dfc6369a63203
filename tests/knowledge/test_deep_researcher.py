"""deep-researcher (a real export) with its knowledge base: the three knowledge-retrieval
nodes inside its research iterations search a dataset built here, on SQLite and Postgres.

The corpus harness runs the engine (fake model with scripted replies, real sandbox);
the knowledge base is the server's own (`DatasetKnowledgeBase` over a real database),
the app imported and its dataset id mapped as `chatflow app import --dataset` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatflow.engine.events import NodeFinished, RunFinished
from chatflow.knowledge.index import ChunkIndex
from chatflow.providers.fake import HashingEmbedder
from chatflow.sandbox import SandboxExecutor
from chatflow.services.apps import AppService
from chatflow.services.knowledge import KnowledgeService, NewDocument
from chatflow.services.knowledge_base import DatasetKnowledgeBase, dataset_refs, map_refs
from chatflow.store import Database
from chatflow.store.storage import LocalFileStorage
from tests.engine.corpus_cases import CASES, DSL_DIR
from tests.engine.corpus_harness import LoopbackServer, run_case
from tests.store.conftest import Target, target

__all__ = ["target"]

pytestmark = pytest.mark.timeout(180)

FILE = Path(DSL_DIR) / "deep-researcher.yml"
RETRIEVALS = ("1739288338449", "1739288362314", "1739288378358")
SOLAR = (
    "Solar panel cost fell by 90 percent between 2010 and 2020.\n"
    "A typical rooftop solar panel lasts 25 years and loses 0.5 percent output a year."
)


@pytest.fixture
async def db(target: Target) -> AsyncIterator[Database]:
    database = target.database()
    await database.connect()
    yield database
    await database.close()


async def test_research_iterations_search_the_mapped_dataset(db: Database, tmp_path: Path) -> None:
    if not FILE.is_file():
        pytest.skip(f"{FILE} is not present")
    knowledge = KnowledgeService(
        db, LocalFileStorage(tmp_path / "uploads"), ChunkIndex(db, HashingEmbedder())
    )
    dataset = await knowledge.create_dataset("solar", indexing_technique="high_quality")
    await knowledge.create_document(
        dataset.row.id, NewDocument("solar.md", SOLAR.encode(), "md", "text/markdown", None)
    )
    assert await knowledge.ingester.run_once() == 1
    apps = AppService(db)
    imported = await apps.import_dsl(FILE.read_text(encoding="utf-8"))
    refs = dataset_refs((await apps.find(imported.app_id)).graph)
    assert refs == ["70c17aae-fb0b-4e4d-9ae0-24def4b85670"]
    assert await map_refs(db, imported.app_id, refs, {refs[0]: "solar"}) == []

    (turn4,) = [c for c in CASES if c.id == "deep-researcher[turn4]"]
    async with SandboxExecutor(workers=1) as sandbox:
        with LoopbackServer() as server:
            events, _ = await run_case(
                dataclasses.replace(turn4, dropped=frozenset()),
                server,
                sandbox,
                knowledge=DatasetKnowledgeBase(db, knowledge),
                app_id=imported.app_id,
            )
    finished = [e for e in events if isinstance(e, NodeFinished) and e.node_id in RETRIEVALS]
    assert {e.node_id for e in finished} == set(RETRIEVALS)
    assert all(e.status == "succeeded" for e in finished), [e.error for e in finished]
    results = [item for e in finished for item in e.outputs["result"]]
    assert results and all(r["metadata"]["dataset_name"] == "solar" for r in results)
    assert any("Solar panel cost" in r["content"] for r in results)
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status in ("succeeded", "partial-succeeded")
