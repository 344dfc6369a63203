"""`/apps/annotations` CRUD and the `/apps/annotation-reply` jobs, on the wire."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chatflow.store.models import AnnotationEmbedding

from .conftest import LiveServer, assert_envelope

pytestmark = pytest.mark.timeout(60)

ITEM_FIELDS = {"id", "question", "answer", "hit_count", "created_at"}
JOB_STATUSES = {"waiting", "running", "completed", "failed"}


def create(client: httpx.Client, question: str, answer: str) -> dict[str, Any]:
    response = client.post("/apps/annotations", json={"question": question, "answer": answer})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_job(client: httpx.Client, action: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        response = client.get(f"/apps/annotation-reply/{action}/status/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert set(body) == {"job_id", "job_status", "error_msg"}
        assert body["job_status"] in JOB_STATUSES
        if body["job_status"] in ("completed", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def embeddings(server: LiveServer, app_id: str) -> dict[str, AnnotationEmbedding]:
    async def load() -> dict[str, AnnotationEmbedding]:
        async with server.services.db.session() as session:
            rows = await session.scalars(
                select(AnnotationEmbedding).where(AnnotationEmbedding.app_id == app_id)
            )
            return {row.annotation_id: row for row in rows}

    return server.call(load())


def app_id(server: LiveServer, name: str) -> str:
    return server.call(server.services.apps.authenticate(server.keys[name])).id


def test_create_list_update_delete(server: LiveServer) -> None:
    client = server.client("forms")
    created = create(client, "What is chatflow?", "A Dify-compatible server.")
    assert set(created) == ITEM_FIELDS
    assert created["hit_count"] == 0 and isinstance(created["created_at"], int)
    uuid.UUID(created["id"])

    listed = client.get("/apps/annotations").json()
    assert set(listed) == {"data", "has_more", "limit", "total", "page"}
    assert listed["data"] == [created]
    assert (listed["has_more"], listed["limit"], listed["total"], listed["page"]) == (
        False,
        20,
        1,
        1,
    )

    updated = client.put(
        f"/apps/annotations/{created['id']}",
        json={"question": "What is chatflow-server?", "answer": "It runs Dify apps."},
    )
    assert updated.status_code == 200
    assert updated.json() == {
        **created,
        "question": "What is chatflow-server?",
        "answer": "It runs Dify apps.",
    }

    deleted = client.delete(
        f"/apps/annotations/{created['id']}", headers={"Content-Type": "application/json"}
    )
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get("/apps/annotations").json()["total"] == 0
    missing = client.delete(f"/apps/annotations/{created['id']}")
    assert_envelope(missing, 404, "not_found")


def test_paging_and_keyword(server: LiveServer) -> None:
    client = server.client("failing")
    for i in range(5):
        create(client, f"question {i}", "needle" if i % 2 else f"answer {i}")
    first = client.get("/apps/annotations", params={"page": 1, "limit": 2}).json()
    assert [a["question"] for a in first["data"]] == ["question 4", "question 3"]
    assert (first["has_more"], first["total"], first["limit"]) == (True, 5, 2)
    last = client.get("/apps/annotations", params={"page": 3, "limit": 2}).json()
    assert [a["question"] for a in last["data"]] == ["question 0"]
    assert last["has_more"] is False and last["page"] == 3
    found = client.get("/apps/annotations", params={"keyword": "NEEDLE"}).json()
    assert found["total"] == 2 and {a["question"] for a in found["data"]} == {
        "question 1",
        "question 3",
    }
    # Dify reads page/limit with `type=int`: junk is the default; limit is capped at 100.
    tolerant = client.get("/apps/annotations", params={"page": "x", "limit": "", "keyword": ""})
    assert tolerant.status_code == 200 and tolerant.json()["limit"] == 20
    assert client.get("/apps/annotations", params={"limit": 1000}).json()["limit"] == 100


def test_annotations_belong_to_their_app(server: LiveServer) -> None:
    mine = create(server.client("forms"), "private?", "yes")
    other = server.client("failing")
    assert mine["id"] not in {a["id"] for a in other.get("/apps/annotations").json()["data"]}
    response = other.put(f"/apps/annotations/{mine['id']}", json={"question": "q", "answer": "a"})
    assert_envelope(response, 404, "not_found")
    assert_envelope(other.delete(f"/apps/annotations/{mine['id']}"), 404, "not_found")
    assert_envelope(other.delete("/apps/annotations/not-a-uuid"), 404, "not_found")


def test_bodies_are_validated(server: LiveServer) -> None:
    client = server.client("forms")
    assert_envelope(client.post("/apps/annotations", json={"question": "q"}), 400, "invalid_param")
    assert_envelope(
        client.post("/apps/annotation-reply/enable", json={"score_threshold": 2}),
        400,
        "invalid_param",
    )
    assert_envelope(client.post("/apps/annotation-reply/enable", json={}), 400, "invalid_param")
    assert_envelope(
        client.post("/apps/annotation-reply/toggle", json={"score_threshold": 0.5}),
        400,
        "invalid_param",
    )
    unauthorized = httpx.get(f"{server.base_url}/apps/annotations")
    assert_envelope(unauthorized, 401, "unauthorized")


def test_enable_job_embeds_every_annotation_and_keeps_them_in_sync(server: LiveServer) -> None:
    client = server.client("workflow")
    app = app_id(server, "workflow")
    first = create(client, "How do I reset my password?", "Use the reset link.")
    assert embeddings(server, app) == {}  # reply is off: nothing is embedded

    started = client.post(
        "/apps/annotation-reply/enable",
        json={
            "score_threshold": 0.9,
            "embedding_provider_name": "openai",
            "embedding_model_name": "text-embedding-3-small",
        },
    )
    assert started.status_code == 200
    job = started.json()
    assert set(job) == {"job_id", "job_status"} and job["job_status"] in JOB_STATUSES
    done = wait_job(client, "enable", job["job_id"])
    assert done == {"job_id": job["job_id"], "job_status": "completed", "error_msg": ""}
    stored = embeddings(server, app)
    assert set(stored) == {first["id"]} and stored[first["id"]].dimensions == 256

    second = create(client, "Where is the office?", "In Berlin.")
    assert set(embeddings(server, app)) == {first["id"], second["id"]}
    before = embeddings(server, app)[second["id"]].vector
    client.put(
        f"/apps/annotations/{second['id']}", json={"question": "Office hours?", "answer": "9-5"}
    )
    assert embeddings(server, app)[second["id"]].vector != before
    client.delete(f"/apps/annotations/{first['id']}")
    assert set(embeddings(server, app)) == {second["id"]}

    disabled = client.post("/apps/annotation-reply/disable")
    assert disabled.status_code == 200
    assert wait_job(client, "disable", disabled.json()["job_id"])["job_status"] == "completed"
    assert embeddings(server, app) == {}


def test_job_status_of_unknown_or_mismatched_jobs(server: LiveServer) -> None:
    client = server.client("forms")
    response = client.get(f"/apps/annotation-reply/enable/status/{uuid.uuid4()}")
    body = assert_envelope(response, 400, "invalid_param")
    assert body["message"] == "The job does not exist."
    job = client.post("/apps/annotation-reply/disable", json={}).json()
    wait_job(client, "disable", job["job_id"])
    mismatched = client.get(f"/apps/annotation-reply/enable/status/{job['job_id']}")
    assert_envelope(mismatched, 400, "invalid_param")
    other_app = server.client("failing").get(
        f"/apps/annotation-reply/disable/status/{job['job_id']}"
    )
    assert_envelope(other_app, 400, "invalid_param")
