"""`client.knowledge` against the real server (`chatflow serve`), sync and async alike."""

from __future__ import annotations

import inspect
import subprocess
import uuid
from typing import Any, TypeVar

import pytest
from conftest import _chatflow
from sdk_live import LiveServer

from chatflow_client import AsyncClient, AuthenticationError, Client, NotFoundError

T = TypeVar("T")
DATASET_KEY = "dataset-test-sdk-0001"


async def run(value: T | Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@pytest.fixture(scope="module")
def dataset_key(server: LiveServer) -> str:
    done = subprocess.run(
        [_chatflow(), "dataset-key", "create", "--api-key", DATASET_KEY],
        env=server.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == DATASET_KEY
    return DATASET_KEY


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_knowledge_resource(server: LiveServer, dataset_key: str, kind: str) -> None:
    client: Client | AsyncClient = (
        Client(server.base_url, dataset_key)
        if kind == "sync"
        else AsyncClient(server.base_url, dataset_key)
    )
    kb = client.knowledge
    try:
        name = f"sdk-{kind}-{uuid.uuid4().hex[:6]}"
        dataset = await run(kb.datasets.create(name, indexing_technique="high_quality"))
        assert dataset.name == name and dataset.indexing_technique == "high_quality"
        listed = await run(kb.datasets.list(keyword=name))
        assert [d.id for d in listed.data] == [dataset.id]
        updated = await run(
            kb.datasets.update(
                dataset.id, retrieval_model={"search_method": "hybrid_search", "top_k": 3}
            )
        )
        assert updated.retrieval_model_dict is not None
        assert updated.retrieval_model_dict.top_k == 3

        created = await run(
            kb.documents.create_by_text(
                dataset.id, name="leave.md", text="Annual leave is 25 days per year."
            )
        )
        assert created.batch and created.document.indexing_status == "waiting"
        from_file = await run(
            kb.documents.create_by_file(
                dataset.id, ("phones.csv", b"name,phone\nAda,555-0100\n", "text/csv")
            )
        )
        for batch in (created.batch, from_file.batch):
            (status,) = await run(kb.documents.wait(dataset.id, batch, timeout=60, poll=0.1))
            assert status.indexing_status == "completed", status
        found = await run(kb.datasets.retrieve(dataset.id, "how many days of annual leave"))
        assert found.records[0].segment.document.name == "leave.md"
        assert 0 < found.records[0].score <= 1
        documents = await run(kb.documents.list(dataset.id))
        assert documents.total == 2
        document_id = created.document.id
        detail = await run(kb.documents.get(dataset.id, document_id))
        assert detail.segment_count == 1 and detail.indexing_status == "completed"

        segments = await run(kb.segments.list(dataset.id, document_id))
        assert segments.total == 1
        added = await run(
            kb.segments.create(dataset.id, document_id, [{"content": "Sick leave: 10 days."}])
        )
        segment_id = added.data[0].id
        changed = await run(
            kb.segments.update(dataset.id, document_id, segment_id, content="Sick leave: 12 days.")
        )
        assert changed.data.content == "Sick leave: 12 days."
        got = await run(kb.segments.get(dataset.id, document_id, segment_id))
        assert got.data.id == segment_id
        await run(kb.segments.delete(dataset.id, document_id, segment_id))

        field = await run(kb.metadata.create(dataset.id, type="string", name="team"))
        await run(kb.metadata.set_values(dataset.id, document_id, {"team": "hr"}))
        fields = await run(kb.metadata.list(dataset.id))
        assert [(f.name, f.count) for f in fields.doc_metadata] == [("team", 1)]
        renamed = await run(kb.metadata.rename(dataset.id, field.id, "department"))
        assert renamed.name == "department"
        assert (await run(kb.metadata.built_in(dataset.id))).fields
        await run(kb.metadata.set_built_in(dataset.id, True))
        filtered = await run(
            kb.datasets.retrieve(
                dataset.id,
                "leave",
                retrieval_model={
                    "metadata_filtering_conditions": {
                        "conditions": [
                            {"name": "department", "comparison_operator": "is", "value": "hr"}
                        ]
                    }
                },
            )
        )
        assert {r.segment.document.name for r in filtered.records} == {"leave.md"}
        await run(kb.metadata.delete(dataset.id, field.id))

        tag = await run(kb.tags.create(f"tag-{kind}-{uuid.uuid4().hex[:6]}"))
        assert tag.binding_count == 0
        await run(kb.tags.bind(dataset.id, [tag.id]))
        assert (await run(kb.tags.of_dataset(dataset.id))).total == 1
        assert tag.id in [t.id for t in await run(kb.tags.list())]
        assert [d.id for d in (await run(kb.datasets.list(tag_ids=[tag.id]))).data] == [dataset.id]
        await run(kb.tags.unbind(dataset.id, [tag.id]))
        assert (await run(kb.tags.rename(tag.id, tag.name + "x"))).name == tag.name + "x"
        await run(kb.tags.delete(tag.id))

        await run(kb.documents.set_status(dataset.id, "disable", [document_id]))
        hidden = await run(kb.datasets.retrieve(dataset.id, "annual leave 25 days"))
        assert all(r.segment.document.id != document_id for r in hidden.records)
        await run(kb.documents.set_status(dataset.id, "enable", [document_id]))
        again = await run(
            kb.documents.update_by_text(
                dataset.id, document_id, name="leave.md", text="Annual leave is 30 days."
            )
        )
        await run(kb.documents.wait(dataset.id, again.batch, timeout=60, poll=0.1))
        assert (
            "30 days"
            in (await run(kb.datasets.retrieve(dataset.id, "annual leave days")))
            .records[0]
            .segment.content
        )
        await run(kb.documents.delete(dataset.id, document_id))
        await run(kb.datasets.delete(dataset.id))
        with pytest.raises(NotFoundError):
            await run(kb.datasets.get(dataset.id))
    finally:
        await run(client.close() if isinstance(client, Client) else client.aclose())


def test_an_app_key_is_refused(server: LiveServer) -> None:
    with Client(server.base_url, server.chat_key) as client, pytest.raises(AuthenticationError):
        client.knowledge.datasets.list()
