"""`RunAdmission`: a new run is refused with 429 while the embedded model's queue is at
its cap, on its own and behind the HTTP app (ASGI transport, in-memory SQLite), and is
admitted again once the queue drains."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from chatflow.api import create_app
from chatflow.errors import TooManyRequests
from chatflow.observability import metrics as m
from chatflow.providers.embedded import MODEL_QUEUE, ModelQueue
from chatflow.providers.fake import FakeRegistry
from chatflow.services import Services
from chatflow.services.admission import RunAdmission
from chatflow.settings import Settings
from chatflow.store import Database

from .conftest import ECHO


def _rejected() -> float:
    return float(m.REJECTED._value.get())  # type: ignore[attr-defined]


def test_a_run_is_refused_only_at_the_queue_cap() -> None:
    queue = ModelQueue()
    admission = RunAdmission(2, queue)
    admission.check()
    queue.enter()
    admission.check()  # one waiting, under the cap
    queue.enter()
    before = _rejected()
    with pytest.raises(TooManyRequests) as caught:
        admission.check()
    assert caught.value.status == 429 and "2 model requests" in caught.value.message
    assert _rejected() == before + 1
    queue.started()  # one leaves the queue for a generation slot: room again
    admission.check()
    queue.left(started=True)
    queue.left(started=False)
    assert (queue.waiting, queue.generating) == (0, 0)


def test_no_cap_admits_whatever_waits() -> None:
    queue = ModelQueue()
    for _ in range(1000):
        queue.enter()
    RunAdmission(0, queue).check()


def _gauge(gauge: object) -> float:
    return float(gauge._value.get())  # type: ignore[attr-defined]


def test_only_the_process_queue_moves_the_process_gauges() -> None:
    """A private queue (a test's) left non-empty must not leave its counts in the
    process's `/metrics`: later tests and scrapes read the gauges."""
    before = (_gauge(m.MODEL_QUEUE), _gauge(m.MODEL_BUSY))
    queue = ModelQueue()
    queue.enter()
    queue.enter()
    queue.started()
    assert (_gauge(m.MODEL_QUEUE), _gauge(m.MODEL_BUSY)) == before
    MODEL_QUEUE.enter()
    MODEL_QUEUE.started()
    MODEL_QUEUE.enter()
    try:
        assert (_gauge(m.MODEL_QUEUE), _gauge(m.MODEL_BUSY)) == (before[0] + 1, before[1] + 1)
    finally:
        MODEL_QUEUE.left(started=True)
        MODEL_QUEUE.left(started=False)
    assert (_gauge(m.MODEL_QUEUE), _gauge(m.MODEL_BUSY)) == before


@pytest.fixture
async def busy_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path, model_backend="fake", model_queue_max=1)
    app = create_app(settings, database=Database("sqlite+aiosqlite://"), models=FakeRegistry())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc/v1") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def test_a_chat_request_gets_difys_429_while_the_queue_is_full(
    busy_client: httpx.AsyncClient,
) -> None:
    services: Services = busy_client.app.state.services  # type: ignore[attr-defined]
    assert services.admission.queue is MODEL_QUEUE
    key = (await services.apps.import_dsl(ECHO)).api_key
    headers = {"Authorization": f"Bearer {key}"}
    body = {"inputs": {}, "query": "hi", "user": "ann", "response_mode": "blocking"}
    MODEL_QUEUE.enter()
    try:
        refused = await busy_client.post("/chat-messages", json=body, headers=headers)
    finally:
        MODEL_QUEUE.left(started=False)
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_requests"
    assert set(refused.json()) >= {"code", "message", "status"}
    # Nothing was recorded for the refused request.
    listed = await busy_client.get("/conversations", params={"user": "ann"}, headers=headers)
    assert listed.json()["data"] == []
    answered = await busy_client.post("/chat-messages", json=body, headers=headers)
    assert answered.status_code == 200 and answered.json()["answer"] == "echo hi #1"
