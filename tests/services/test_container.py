"""`Services.open` / `close` over a temporary SQLite file: everything a worker starts
(sweeper, knowledge ingester, sandbox, naming) is gone after `close`, and what was
written is there when the next process opens the same data directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chatflow.providers.fake import FakeRegistry
from chatflow.services import Services
from chatflow.services.chat import ChatRequest
from chatflow.settings import Settings
from chatflow.store import Database

from .conftest import ECHO


async def test_close_leaves_nothing_running_and_the_data_stays(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model_backend="fake")
    url = f"sqlite+aiosqlite:///{tmp_path / 'chatflow.db'}"
    before = asyncio.all_tasks()
    services = await Services.open(
        settings, database=Database(url), models=FakeRegistry(), sweep=True
    )
    try:
        imported = await services.apps.import_dsl(ECHO)
        app = await services.apps.find(imported.app_id)
        handle = await services.chat.start(app, ChatRequest(query="hi", user="ann"))
        end = await handle.wait()
        assert end.answer == "echo hi #1"
    finally:
        await services.close()
    await asyncio.sleep(0)  # let done callbacks run
    left = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert left == set(), [t.get_name() for t in left]

    reopened = await Services.open(settings, database=Database(url), models=FakeRegistry())
    try:
        app = await reopened.apps.find(imported.app_id)
        conversation = await reopened.conversations.get(app, "ann", handle.info.conversation_id)
        assert conversation.name == "hi"
        again = ChatRequest(
            query="more", user="ann", conversation_id=conversation.id, streaming=False
        )
        end = await (await reopened.chat.start(app, again)).wait()
        assert end.answer == "echo more #2"  # the variable kept across processes
        assert imported.api_key is not None
        assert (await reopened.apps.authenticate(imported.api_key)).id == app.id
    finally:
        await reopened.close()
