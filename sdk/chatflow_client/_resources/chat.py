"""`client.chat`: send a chat message (blocking or streaming) and stop a running one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from .._base import RESUME_OPT_IN_HEADER, Operation, body, parse_json, parse_none
from .._models import ChatMessageResponse, InputFile, Result
from .._streaming import AsyncChatStream, ChatStream
from ._resource import AsyncResource, SyncResource

FileRef = InputFile | Mapping[str, Any]


def files_json(files: Sequence[FileRef] | None) -> list[dict[str, Any]] | None:
    if files is None:
        return None
    return [f.model_dump(exclude_none=True) if isinstance(f, InputFile) else dict(f) for f in files]


def _send(
    mode: str,
    query: str,
    user: str,
    inputs: Mapping[str, Any] | None,
    conversation_id: str | None,
    files: Sequence[FileRef] | None,
    auto_generate_name: bool | None,
    workflow_id: str | None,
    resumable: bool = False,
) -> Operation[ChatMessageResponse]:
    return Operation(
        "POST",
        "/chat-messages",
        parse_json(ChatMessageResponse),
        json=body(
            query=query,
            inputs=dict(inputs or {}),
            response_mode=mode,
            user=user,
            conversation_id=conversation_id,
            files=files_json(files),
            auto_generate_name=auto_generate_name,
            workflow_id=workflow_id,
        ),
        headers={RESUME_OPT_IN_HEADER: "true"} if resumable else {},
    )


def stop_op(task_id: str, user: str) -> Operation[Result]:
    return Operation(
        "POST", f"/chat-messages/{task_id}/stop", parse_json(Result), json={"user": user}
    )


def resume_op(path: str, user: str, last_event_id: str) -> Operation[None]:
    """Reopen a run's event stream after `last_event_id` (resumable-stream servers only)."""
    return Operation(
        "GET",
        path,
        parse_none,
        params={"user": user},
        headers={"Last-Event-ID": last_event_id, RESUME_OPT_IN_HEADER: "true"},
    )


class Chat(SyncResource):
    def send(
        self,
        query: str,
        *,
        user: str,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        files: Sequence[FileRef] | None = None,
        auto_generate_name: bool | None = None,
        workflow_id: str | None = None,
    ) -> ChatMessageResponse:
        """Blocking mode: wait for the whole answer. Never retried once sent."""
        return self._client.request(
            _send("blocking", query, user, inputs, conversation_id, files,
                  auto_generate_name, workflow_id)
        )  # fmt: skip

    def stream(
        self,
        query: str,
        *,
        user: str,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        files: Sequence[FileRef] | None = None,
        auto_generate_name: bool | None = None,
        workflow_id: str | None = None,
        resumable: bool = False,
    ) -> ChatStream:
        """Streaming mode. `resumable=True` asks the server for event ids so a dropped
        connection is resumed with `Last-Event-ID` instead of failing."""
        op = _send("streaming", query, user, inputs, conversation_id, files,
                   auto_generate_name, workflow_id, resumable)  # fmt: skip

        def resume(task_id: str, last: str) -> httpx.Response:
            path = f"/chat-messages/{task_id}/events"
            return self._client.open_stream(resume_op(path, user, last))

        return ChatStream(
            self._client.open_stream(op),
            stop=lambda task_id: self.stop(task_id, user=user),
            resume=resume if resumable else None,
        )

    def stop(self, task_id: str, *, user: str) -> Result:
        """Stop a streaming run; Dify answers success even for finished or unknown tasks."""
        return self._client.request(stop_op(task_id, user))


class AsyncChat(AsyncResource):
    async def send(
        self,
        query: str,
        *,
        user: str,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        files: Sequence[FileRef] | None = None,
        auto_generate_name: bool | None = None,
        workflow_id: str | None = None,
    ) -> ChatMessageResponse:
        return await self._client.request(
            _send("blocking", query, user, inputs, conversation_id, files,
                  auto_generate_name, workflow_id)
        )  # fmt: skip

    async def stream(
        self,
        query: str,
        *,
        user: str,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        files: Sequence[FileRef] | None = None,
        auto_generate_name: bool | None = None,
        workflow_id: str | None = None,
        resumable: bool = False,
    ) -> AsyncChatStream:
        op = _send("streaming", query, user, inputs, conversation_id, files,
                   auto_generate_name, workflow_id, resumable)  # fmt: skip

        async def stop(task_id: str) -> Result:
            return await self.stop(task_id, user=user)

        async def resume(task_id: str, last: str) -> httpx.Response:
            path = f"/chat-messages/{task_id}/events"
            return await self._client.open_stream(resume_op(path, user, last))

        return AsyncChatStream(
            await self._client.open_stream(op), stop=stop, resume=resume if resumable else None
        )

    async def stop(self, task_id: str, *, user: str) -> Result:
        return await self._client.request(stop_op(task_id, user))
