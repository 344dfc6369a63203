"""WorkflowService over in-memory SQLite: a run's record from start to end, its detail and
logs, and Dify's parameter checks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chatflow.errors import InvalidRequest
from chatflow.services import Services
from chatflow.services.workflows import LogQuery, WorkflowRequest
from chatflow.store.models import NodeExecution

from .conftest import DSL, load


async def test_a_run_is_recorded_and_listed(services: Services) -> None:
    app = await load(services, (DSL / "workflow.yml").read_text())
    handle = await services.workflows.start(app, WorkflowRequest(user="ann", inputs={"topic": "t"}))
    end = await handle.wait()
    assert end.status == "succeeded"
    run = await services.workflows.detail(app, handle.info.workflow_run_id)
    assert run.status == "succeeded" and run.inputs["topic"] == "t"
    assert run.outputs is not None and run.outputs["text"] == "Hello world!"
    assert run.message_id is None and run.conversation_id is None
    assert int(run.created_at.timestamp()) == handle.info.created_at
    async with services.db.session() as session:
        nodes = list(await session.scalars(select(NodeExecution.node_id)))
    assert sorted(nodes) == ["end", "extract", "llm", "start"]
    page = await services.workflows.logs(app, LogQuery(status="succeeded"))
    assert [log.run.id for log in page.items] == [run.id]
    assert page.items[0].end_user is not None and page.items[0].end_user.session_id == "ann"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (LogQuery(status="paused"), "status: must be one of"),
        (LogQuery(page=0), "page: must be between"),
        (LogQuery(limit=101), "limit: must be between"),
        (LogQuery(created_at__before="yesterday"), "created_at__before: invalid"),
    ],
)
async def test_log_filters_are_checked(services: Services, query: LogQuery, message: str) -> None:
    app = await load(services, (DSL / "workflow.yml").read_text())
    with pytest.raises(InvalidRequest, match=message):
        await services.workflows.logs(app, query)


async def test_runs_need_a_user_and_a_workflow_app(services: Services) -> None:
    app = await load(services, (DSL / "workflow.yml").read_text())
    with pytest.raises(InvalidRequest, match="user"):
        await services.workflows.start(app, WorkflowRequest(user=None, inputs={"topic": "t"}))
    chat = await load(services, (DSL / "basic_chat.yml").read_text())
    with pytest.raises(InvalidRequest) as caught:
        await services.workflows.start(chat, WorkflowRequest(user="ann"))
    assert caught.value.code == "not_workflow_app"
