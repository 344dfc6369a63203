"""Annotation reply end to end, with the real local embedder (WordLlama, offline).

A query close to an annotation's question is answered with the annotation instead of
running the graph: `message` + `message_end` (with `metadata.annotation_reply`) and no
workflow events, as in Dify; the hit is counted and kept, the message saved.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chatflow.providers.embeddings import StaticEmbedder
from chatflow.providers.fake import FakeRegistry
from chatflow.store.models import AnnotationHit

from .conftest import ANSWER, LiveServer, chat, sse_events
from .test_annotations import app_id, create, wait_job

pytestmark = pytest.mark.timeout(90)

PASSWORD_Q = "How do I reset my password?"
PASSWORD_A = "Open Settings, choose Security and press 'Reset password'."


class LocalEmbeddingRegistry(FakeRegistry):
    """The fake model, but real sentence embeddings (the default local embedder)."""

    _local = StaticEmbedder()

    def embedder(self) -> StaticEmbedder:  # type: ignore[override]
        return self._local


LIVE_REGISTRY = LocalEmbeddingRegistry


def stream(client: httpx.Client, query: str, user: str = "alice") -> list[dict[str, Any]]:
    payload = {"inputs": {}, "query": query, "user": user, "response_mode": "streaming"}
    with client.stream("POST", "/chat-messages", json=payload) as response:
        assert response.status_code == 200
        raw = response.read().decode("utf-8")
    return [e for e in sse_events(iter(raw.split("\n"))) if e["event"] != "ping"]


def enable(client: httpx.Client, threshold: float) -> None:
    job = client.post(
        "/apps/annotation-reply/enable",
        json={
            "score_threshold": threshold,
            "embedding_provider_name": "local",
            "embedding_model_name": "wordllama-l2-supercat-256",
        },
    ).json()
    assert wait_job(client, "enable", job["job_id"])["job_status"] == "completed"


def hits(server: LiveServer, annotation_id: str) -> list[AnnotationHit]:
    async def load() -> list[AnnotationHit]:
        async with server.services.db.session() as session:
            rows = await session.scalars(
                select(AnnotationHit).where(AnnotationHit.annotation_id == annotation_id)
            )
            return list(rows)

    return server.call(load())


@pytest.fixture(scope="module")
def annotated(live: LiveServer) -> dict[str, Any]:
    client = live.client("assistant")
    password = create(client, PASSWORD_Q, PASSWORD_A)
    create(client, "Where is your office located?", "Our office is in Lisbon.")
    enable(client, 0.85)
    return password


def test_a_close_query_is_answered_by_the_annotation_when_streaming(
    server: LiveServer, annotated: dict[str, Any]
) -> None:
    frames = stream(server.client("assistant"), "I forgot my password, how do I reset it?")
    assert [f["event"] for f in frames] == ["message", "message_end"]
    message, end = frames
    assert message["answer"] == PASSWORD_A and message["id"] == message["message_id"]
    assert end["metadata"]["annotation_reply"] == {
        "id": annotated["id"],
        "account": {"id": app_id(server, "assistant"), "name": "Dify user"},
    }
    assert end["metadata"]["usage"]["total_tokens"] == 0
    assert end["metadata"]["retriever_resources"] == []
    for frame in frames:
        assert frame["task_id"] == message["task_id"]
        assert frame["conversation_id"] == message["conversation_id"]

    # The message is saved like any other and the hit is counted and kept.
    history = server.client("assistant").get(
        "/messages", params={"conversation_id": message["conversation_id"], "user": "alice"}
    )
    assert [(m["query"], m["answer"]) for m in history.json()["data"]] == [
        ("I forgot my password, how do I reset it?", PASSWORD_A)
    ]
    recorded = hits(server, annotated["id"])
    assert [(h.message_id, h.question) for h in recorded][-1] == (
        message["message_id"],
        "I forgot my password, how do I reset it?",
    )
    assert recorded[-1].score >= 0.85


def test_blocking_mode_carries_the_annotation_too(
    server: LiveServer, annotated: dict[str, Any]
) -> None:
    before = {
        a["id"]: a["hit_count"]
        for a in server.client("assistant").get("/apps/annotations").json()["data"]
    }
    result = chat(server.client("assistant"), "how can I reset my password")
    assert result["answer"] == PASSWORD_A
    assert result["metadata"]["annotation_reply"]["id"] == annotated["id"]
    after = {
        a["id"]: a["hit_count"]
        for a in server.client("assistant").get("/apps/annotations").json()["data"]
    }
    assert after[annotated["id"]] == before[annotated["id"]] + 1


def test_an_unrelated_query_runs_the_graph(server: LiveServer, annotated: dict[str, Any]) -> None:
    frames = stream(server.client("assistant"), "Tell me a joke about cats")
    names = [f["event"] for f in frames]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    end = next(f for f in frames if f["event"] == "message_end")
    assert "annotation_reply" not in end["metadata"]
    assert "".join(f["answer"] for f in frames if f["event"] == "message") == ANSWER


def test_updates_are_matched_and_disable_turns_reply_off(
    server: LiveServer, annotated: dict[str, Any]
) -> None:
    client = server.client("assistant")
    office = next(
        a for a in client.get("/apps/annotations").json()["data"] if "office" in a["question"]
    )
    client.put(
        f"/apps/annotations/{office['id']}",
        json={"question": "What are your opening hours?", "answer": "Nine to five."},
    )
    assert (
        chat(client, "When are you open? What are the opening hours?")["answer"] == "Nine to five."
    )
    assert chat(client, "Where is your office located?")["answer"] == ANSWER

    job = client.post("/apps/annotation-reply/disable").json()
    assert wait_job(client, "disable", job["job_id"])["job_status"] == "completed"
    assert chat(client, PASSWORD_Q)["answer"] == ANSWER
    enable(client, 0.85)  # leave the module's app as the fixture made it
    assert chat(client, PASSWORD_Q)["answer"] == PASSWORD_A
