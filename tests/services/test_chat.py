"""ChatService over in-memory SQLite: a turn's rows, continuing a conversation (variables,
dialogue count, LLM memory), streaming and blocking ends, stop, and wrong-mode requests."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from chatflow.engine.events import RunStarted, TextChunk
from chatflow.errors import InvalidRequest, NotFound
from chatflow.providers.fake import FakeRegistry
from chatflow.services import Services, idle
from chatflow.services.apps import LoadedApp
from chatflow.services.chat import ChatRequest
from chatflow.services.turn import TurnEnded
from chatflow.settings import Settings
from chatflow.store import Database
from chatflow.store.conversation_variables import load_conversation_variables
from chatflow.store.models import Conversation, Message, NodeExecution, WorkflowRun

from .conftest import DSL, load


async def test_a_blocking_turn_is_saved_whole(services: Services, echo: LoadedApp) -> None:
    handle = await services.chat.start(echo, ChatRequest(query="hi", user="ann", streaming=False))
    end = await handle.wait()
    assert end.status == "succeeded" and end.answer == "echo hi #1"
    info = handle.info
    async with services.db.session() as session:
        message = await session.get(Message, info.message_id)
        run = await session.get(WorkflowRun, info.workflow_run_id)
        conversation = await session.get(Conversation, info.conversation_id)
        nodes = list(await session.scalars(select(NodeExecution.node_id)))
        variables = await load_conversation_variables(session, info.conversation_id)
    assert message is not None and (message.status, message.answer) == ("normal", "echo hi #1")
    assert message.message_metadata["usage"]["total_tokens"] == 0
    assert run is not None and run.status == "succeeded" and run.message_id == info.message_id
    assert run.outputs == {"answer": "echo hi #1", "files": []} and run.finished_at is not None
    assert conversation is not None and conversation.dialogue_count == 1
    assert conversation.name == "hi"  # no model: named by the query, at once
    assert sorted(nodes) == ["answer", "bump", "start"]
    assert [(v.name, v.value) for v in variables] == [("count", 1)]


async def test_a_continued_conversation_keeps_its_variables(
    services: Services, echo: LoadedApp
) -> None:
    first = await services.chat.start(echo, ChatRequest(query="a", user="ann", streaming=False))
    await first.wait()
    conversation_id = first.info.conversation_id
    again = ChatRequest(query="b", user="ann", conversation_id=conversation_id, streaming=False)
    second = await services.chat.start(echo, again)
    assert (await second.wait()).answer == "echo b #2"
    async with services.db.session() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None and conversation.dialogue_count == 2
    # Another user cannot continue it.
    other = ChatRequest(query="c", user="bob", conversation_id=conversation_id)
    with pytest.raises(NotFound):
        await services.chat.start(echo, other)


async def test_a_streaming_turn_publishes_its_events_then_its_end(
    services: Services, echo: LoadedApp
) -> None:
    handle = await services.chat.start(echo, ChatRequest(query="yo", user="ann"))
    stream = services.chat.streams.subscribe(handle.info.task_id)
    items = [item async for _, item in stream]  # (sequence number, item)
    assert isinstance(items[0], RunStarted)
    assert "".join(i.text for i in items if isinstance(i, TextChunk)) == "echo yo #1"
    assert isinstance(items[-1], TurnEnded) and items[-1].status == "succeeded"
    # Published only after the save: the message reads back at once.
    async with services.db.session() as session:
        message = await session.get(Message, handle.info.message_id)
    assert message is not None and message.status == "normal"


@pytest.fixture
def models() -> FakeRegistry:
    return FakeRegistry(tokens=[f" t{i}" for i in range(50)], delay=0.02)


async def test_stop_keeps_the_partial_answer(services: Services) -> None:
    app = await load(services, (DSL / "basic_chat.yml").read_text())
    handle = await services.chat.start(app, ChatRequest(query="hi", user="ann"))
    items = services.chat.streams.subscribe(handle.info.task_id)
    async for _, item in items:
        if isinstance(item, TextChunk) and item.text:
            break
    assert not await services.chat.stop(app, handle.info.task_id, "bob")  # not bob's turn
    assert await services.chat.stop(app, handle.info.task_id, "ann")
    end = await asyncio.wait_for(handle.wait(), 5)
    assert end.status == "stopped" and 0 < len(end.answer) < len(" t0" * 50)
    async with services.db.session() as session:
        message = await session.get(Message, handle.info.message_id)
    assert message is not None and message.status == "stopped" and message.answer == end.answer


async def test_a_workflow_app_is_refused(services: Services) -> None:
    app = await load(services, (DSL / "workflow.yml").read_text())
    with pytest.raises(InvalidRequest) as caught:
        await services.chat.start(app, ChatRequest(query="hi", user="ann"))
    assert caught.value.code == "not_chat_app"


async def test_shutdown_cancels_a_conversation_name_being_generated(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the services while a new conversation's name is being generated cancels
    the model call and awaits it: no `generate_name` task is left for the loop to
    destroy ("Task was destroyed but it is pending")."""
    monkeypatch.setattr(idle, "_IDLE_GRACE", 0.0)
    models = FakeRegistry(tokens=[f" t{i}" for i in range(50)], delay=0.02)
    services = await Services.open(
        settings, database=Database("sqlite+aiosqlite://"), models=models
    )
    try:
        app = await load(services, (DSL / "basic_chat.yml").read_text())
        handle = await services.chat.start(app, ChatRequest(query="hi", user="ann"))
        await asyncio.wait_for(handle.wait(), 10)
        for _ in range(200):  # the turn's stream, then the name's
            if models.fake.calls >= 2:
                break
            await asyncio.sleep(0.01)
        assert models.fake.calls >= 2
    finally:
        await services.close()

    def naming(task: asyncio.Task[object]) -> bool:
        return "generate_name" in getattr(task.get_coro(), "__qualname__", "")

    assert [task for task in asyncio.all_tasks() if naming(task)] == []


async def test_conversation_names_waiting_for_the_model_are_bounded(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model names new conversations one at a time, only while no turn runs. Under
    sustained load new conversations come faster, and every one used to wait in memory
    for its name (the soak grew ~28 MiB a minute). Past `conversation_naming_backlog`
    waiting, a new conversation is named after its query at once and nothing waits for it;
    the ones that waited are still named by the model when the worker is quiet."""
    monkeypatch.setattr(idle, "_IDLE_GRACE", 0.5)
    settings = Settings(data_dir=tmp_path, model_backend="fake", conversation_naming_backlog=2)
    models = FakeRegistry(tokens=["Named", " by", " model"])
    services = await Services.open(
        settings, database=Database("sqlite+aiosqlite://"), models=models
    )
    try:
        app = await load(services, (DSL / "basic_chat.yml").read_text())
        conversations = []
        # Back to back: each turn ends within the idle grace of the one before, so no
        # name is generated meanwhile.
        for index in range(6):
            request = ChatRequest(query=f"question {index}", user="ann", streaming=False)
            handle = await services.chat.start(app, request)
            await handle.wait()
            conversations.append(handle.info.conversation_id)
        assert services.chat.names_waiting == 2
        assert REGISTRY.get_sample_value("chatflow_conversation_names_waiting") == 2

        async def names() -> list[str]:
            async with services.db.session() as session:
                rows = {
                    row.id: row.name
                    for row in (await session.execute(select(Conversation))).scalars()
                }
            return [rows[conversation] for conversation in conversations]

        named_now = [f"question {index}" for index in range(2, 6)]
        assert await names() == ["New conversation", "New conversation", *named_now]
        for _ in range(300):  # the worker is quiet now: the two waiting are named
            if services.chat.names_waiting == 0:
                break
            await asyncio.sleep(0.01)
        assert await names() == ["Named by model", "Named by model", *named_now]
        assert REGISTRY.get_sample_value("chatflow_conversation_names_waiting") == 0
    finally:
        await services.close()
