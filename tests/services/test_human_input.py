"""HumanInputService over in-memory SQLite: a turn pauses at a form, the pause is kept by
the store, submitting resumes the same message in a new segment, and the form is spent."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from chatflow.errors import ChatflowError
from chatflow.services import Services
from chatflow.services.chat import ChatRequest
from chatflow.store import human_input as pauses_repo
from chatflow.store.models import HumanInputForm, Message, NodeExecution, WorkflowRun

from .conftest import DSL, load


async def _wait_for_status(services: Services, message_id: str, status: str) -> Message:
    for _ in range(200):
        async with services.db.session() as session:
            message = await session.get(Message, message_id)
        if message is not None and message.status == status:
            return message
        await asyncio.sleep(0.02)
    raise AssertionError(f"message never became {status}")


async def test_pause_submit_resume(services: Services) -> None:
    app = await load(services, (DSL / "approval.yml").read_text())
    handle = await services.chat.start(app, ChatRequest(query="Hi", user="ann"))
    end = await handle.wait()
    assert end.status == "paused" and end.paused is not None
    assert end.answer == 'Checking "Hi". '
    run_id = handle.info.workflow_run_id
    async with services.db.session() as session:
        message = await session.get(Message, handle.info.message_id)
        run = await session.get(WorkflowRun, run_id)
        pause = await pauses_repo.get_pause(session, run_id)
        form = await session.scalar(select(HumanInputForm))
    assert message is not None and (message.status, message.answer) == ("paused", end.answer)
    assert run is not None and run.status == "paused"
    assert pause is not None and pause.status == "paused" and pause.turn["answer"] == end.answer
    assert form is not None and form.status == "waiting"

    shown = await services.human_input.form(app, form.form_token, "ann")
    assert shown["resolved_default_values"] == {"note": "Hi"}
    with pytest.raises(ChatflowError):  # another user's form is not found
        await services.human_input.form(app, form.form_token, "bob")

    await services.human_input.submit(
        app, form.form_token, user="ann", action="approve", inputs={"note": "ok"}
    )
    message = await _wait_for_status(services, handle.info.message_id, "normal")
    # The resumed segment appends to the same message.
    assert message.answer == 'Checking "Hi". Hello world! [ok]'
    async with services.db.session() as session:
        run = await session.get(WorkflowRun, run_id)
        pause = await pauses_repo.get_pause(session, run_id)
        nodes = list(await session.scalars(select(NodeExecution.node_id)))
    assert run is not None and run.status == "succeeded"
    assert pause is not None and pause.status == "finished"
    assert sorted(nodes) == ["approved", "draft", "llm", "review", "start"]

    with pytest.raises(ChatflowError) as caught:  # a form is submitted once
        await services.human_input.submit(
            app, form.form_token, user="ann", action="approve", inputs={"note": "again"}
        )
    assert caught.value.status == 412
