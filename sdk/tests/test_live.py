"""Every operation against the real server (`chatflow serve`), one body for both clients."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
import pytest
from sdk_live import LiveServer, Tally

from chatflow_client import (
    AsyncChatStream,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ChatStream,
    Client,
    FinalMessage,
    InputFile,
    MessageEvent,
    NotFoundError,
    StreamEvent,
)

T = TypeVar("T")
AnyClient = Client | AsyncClient


async def run(value: T | Any) -> Any:
    """Await async results; pass sync ones through, so one test body serves both clients."""
    return await value if inspect.isawaitable(value) else value


async def events(stream: ChatStream | AsyncChatStream) -> list[StreamEvent]:
    if isinstance(stream, AsyncChatStream):
        return [e async for e in stream]
    return list(stream)


async def final(stream: ChatStream | AsyncChatStream) -> FinalMessage:
    return await run(stream.get_final_message())


def _make(kind: str, base_url: str, key: str, tally: Tally) -> AnyClient:
    """A client whose 2xx answers are counted in `tally` (see the last test)."""
    if kind == "sync":
        hooks = {"response": [lambda response: tally.record("sync", response)]}
        return Client(base_url, key, http_client=httpx.Client(event_hooks=hooks))

    async def record(response: httpx.Response) -> None:
        tally.record("async", response)

    return AsyncClient(
        base_url, key, http_client=httpx.AsyncClient(event_hooks={"response": [record]})
    )


async def _close(client: AnyClient) -> None:
    await run(client.close() if isinstance(client, Client) else client.aclose())


@pytest.fixture(params=["sync", "async"])
async def api(
    request: pytest.FixtureRequest, server: LiveServer, tally: Tally
) -> AsyncIterator[AnyClient]:
    client = _make(request.param, server.base_url, server.chat_key, tally)
    yield client
    await _close(client)


@pytest.fixture(params=["sync", "async"])
async def wf(
    request: pytest.FixtureRequest, server: LiveServer, tally: Tally
) -> AsyncIterator[AnyClient]:
    client = _make(request.param, server.base_url, server.workflow_key, tally)
    yield client
    await _close(client)


@pytest.fixture
def user() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}"


async def _chat(api: AnyClient, user: str, query: str = "hi") -> Any:
    return await run(api.chat.send(query, user=user))


async def test_blocking_chat(api: AnyClient, user: str) -> None:
    answer = await _chat(api, user)
    assert answer.answer and answer.id and answer.conversation_id
    assert answer.metadata.usage is not None


async def test_streaming_chat_events_and_final_answer(api: AnyClient, user: str) -> None:
    stream = await run(api.chat.stream("hello", user=user))
    seen = await events(stream)
    names = [e.event for e in seen if e.event != "ping"]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert "message_end" in names
    text = "".join(e.answer for e in seen if isinstance(e, MessageEvent))
    assert text and stream.state.final.answer == text


async def test_stop_ends_the_stream(api: AnyClient, user: str) -> None:
    stream = await run(api.chat.stream("tell me a long story", user=user))
    assert (await run(stream.stop())).result == "success"
    message = await final(stream)
    assert message.task_id


async def test_suggested_questions(api: AnyClient, user: str) -> None:
    answer = await _chat(api, user)
    assert (await run(api.messages.suggested(answer.id, user=user))).result == "success"


async def test_message_history(api: AnyClient, user: str) -> None:
    answer = await _chat(api, user, "first")
    page = await run(api.messages.list(answer.conversation_id, user=user))
    assert [m.query for m in page.data] == ["first"]


async def test_conversations_rename_and_delete(api: AnyClient, user: str) -> None:
    answer = await _chat(api, user)
    listed = await run(api.conversations.list(user=user))
    assert [c.id for c in listed.data] == [answer.conversation_id]
    renamed = await run(api.conversations.rename(answer.conversation_id, user=user, name="N"))
    assert renamed.name == "N"
    await run(api.conversations.delete(answer.conversation_id, user=user))
    assert (await run(api.conversations.list(user=user))).data == []


async def test_conversation_variables(api: AnyClient, user: str) -> None:
    answer = await _chat(api, user)
    variables = await run(api.conversations.variables(answer.conversation_id, user=user))
    (topic,) = [v for v in variables.data if v.name == "topic"]
    assert topic.value == "general"
    updated = await run(
        api.conversations.update_variable(answer.conversation_id, topic.id, value="x", user=user)
    )
    assert updated.value == "x"


async def test_upload_preview_and_chat_with_file(api: AnyClient, user: str) -> None:
    uploaded = await run(api.files.upload(("notes.txt", b"hello file", "text/plain"), user=user))
    assert uploaded.id and uploaded.size == 10
    preview = await run(api.files.preview(uploaded.id, user=user))
    assert preview.content == b"hello file"
    ref = InputFile(type="document", transfer_method="local_file", upload_file_id=uploaded.id)
    assert (await run(api.chat.send("read it", user=user, files=[ref]))).answer


async def test_feedbacks(api: AnyClient, user: str) -> None:
    answer = await _chat(api, user)
    assert (await run(api.feedbacks.create(answer.id, rating="like", user=user))).result
    listed = await run(api.feedbacks.list(limit=101))
    assert answer.id in {f.message_id for f in listed.data}


async def test_end_user(api: AnyClient, user: str) -> None:
    # As in Dify's docs: an upload's `created_by` is the uploading end user's id.
    uploaded = await run(api.files.upload(("a.txt", b"x", "text/plain"), user=user))
    assert uploaded.created_by, "an upload should name its end user"
    end_user = await run(api.end_users.get(uploaded.created_by))
    assert end_user.id == uploaded.created_by and end_user.session_id == user
    with pytest.raises(NotFoundError):
        await run(api.end_users.get(str(uuid.uuid4())))


async def test_app_info_parameters_meta_site(api: AnyClient) -> None:
    assert (await run(api.app.info())).mode == "advanced-chat"
    params = await run(api.app.parameters())
    assert params.opening_statement == "Hello from the SDK live test."
    assert isinstance((await run(api.app.meta())).tool_icons, dict)
    assert (await run(api.app.site())).title


async def test_annotations_crud(api: AnyClient) -> None:
    created = await run(api.annotations.create(question="Q?", answer="A."))
    updated = await run(api.annotations.update(created.id, question="Q2?", answer="A2."))
    assert updated.answer == "A2."
    assert created.id in {a.id for a in (await run(api.annotations.list(limit=100))).data}
    await run(api.annotations.delete(created.id))


async def test_annotation_reply_job(api: AnyClient) -> None:
    job = await run(api.annotations.reply_settings("disable", score_threshold=0.9))
    for _ in range(50):  # the job runs in the background; it is quick
        status = await run(api.annotations.reply_status("disable", job.job_id))
        if status.job_status not in {"waiting", "running"}:
            break
        await asyncio.sleep(0.1)
    assert status.job_status == "completed", status
    with pytest.raises(BadRequestError) as info:  # Dify: 400, not 404, for an unknown job
        await run(api.annotations.reply_status("disable", str(uuid.uuid4())))
    assert (info.value.code, info.value.message) == ("invalid_param", "The job does not exist.")


async def test_text_to_audio(api: AnyClient, user: str) -> None:
    audio = await run(api.audio.to_audio(text="hello", user=user))
    assert audio.content and audio.content_type.startswith("audio/")


async def test_audio_to_text(api: AnyClient, user: str) -> None:
    audio = await run(api.audio.to_audio(text="hello", user=user))
    text = await run(api.audio.to_text(("a.mp3", audio.content, audio.content_type), user=user))
    assert isinstance(text.text, str)


async def test_workflow_run_detail_and_logs(api: AnyClient, user: str) -> None:
    stream = await run(api.chat.stream("hi", user=user))
    message = await final(stream)
    assert message.workflow_run_id
    detail = await run(api.workflows.get_run(message.workflow_run_id))
    assert detail.status == "succeeded"
    logs = await run(api.workflows.logs(limit=5))
    assert logs.data


async def test_workflow_app_run_stream_and_stop(wf: AnyClient, user: str) -> None:
    result = await run(wf.workflows.run(inputs={"topic": "owls"}, user=user))
    assert result.data.status == "succeeded" and result.data.outputs
    stream = await run(wf.workflows.stream(inputs={"topic": "owls"}, user=user))
    assert (await final(stream)).answer or stream.state.final.outputs
    stopping = await run(wf.workflows.stream(inputs={"topic": "owls"}, user=user))
    assert (await run(stopping.stop())).result == "success"
    await final(stopping)


async def test_bad_key_and_foreign_ids(server: LiveServer, user: str) -> None:
    async with AsyncClient(server.base_url, "app-wrong") as bad:
        with pytest.raises(AuthenticationError) as info:
            await bad.app.info()
    assert info.value.code == "unauthorized"
    async with AsyncClient(server.base_url, server.chat_key) as good:
        answer = await good.chat.send("hi", user=user)
        with pytest.raises(NotFoundError):
            await good.messages.list(answer.conversation_id, user=user + "-other")


def test_every_operation_was_called_by_both_clients(tally: Tally) -> None:
    """Runs last in this module: each of the 28 operations (and workflow run/stop) answered
    2xx to the sync and to the async client in the tests above."""
    assert len(tally.operations) == 28 + 2
    assert tally.missing() == [], "\n".join(tally.table())
