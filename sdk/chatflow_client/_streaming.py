"""`ChatStream` / `AsyncChatStream`: typed events from a streaming response, plus helpers.

A stream yields every typed event (pings included), raises `StreamError` when an `error`
event arrives, and offers `text_deltas()`, `final_answer()`, `get_final_message()` and
`stop()`. When the server supports resumable streams (it sent `id:` lines because the
request opted in), a dropped connection is reopened with `Last-Event-ID` and iteration
continues with no event lost or repeated.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Any

import httpx

from ._errors import StreamError, transport_error
from ._events import (
    ErrorEvent,
    MessageEndEvent,
    MessageEvent,
    MessageReplaceEvent,
    PingEvent,
    StreamEvent,
    TextChunkEvent,
    TextReplaceEvent,
    WorkflowFinishedEvent,
    WorkflowStartedEvent,
    parse_event,
)
from ._models import MessageMetadata, Model, Result
from ._sse import ServerSentEvent, aiter_sse, iter_sse


class FinalMessage(Model):
    """What a finished stream amounts to; `status` is the workflow's when there was one."""

    answer: str = ""
    task_id: str | None = None
    message_id: str | None = None
    conversation_id: str | None = None
    workflow_run_id: str | None = None
    metadata: MessageMetadata = MessageMetadata()
    outputs: dict[str, Any] | None = None
    status: str | None = None


def text_delta(event: StreamEvent) -> str:
    """The answer text an event adds: `message.answer` or workflow `text_chunk.data.text`."""
    if isinstance(event, MessageEvent):
        return event.answer
    if isinstance(event, TextChunkEvent):
        return event.data.text
    return ""


class StreamState:
    """Everything learned from the events so far (no I/O)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.final = FinalMessage()
        self.last_event_id: str | None = None
        self.is_workflow = False
        self.complete = False

    def accept(self, sse: ServerSentEvent) -> StreamEvent | None:
        if sse.id is not None:
            self.last_event_id = sse.id
        if not sse.data.strip():
            return PingEvent() if sse.event == "ping" else None
        payload = json.loads(sse.data)
        if sse.event != "message" and "event" not in payload:
            payload["event"] = sse.event
        event = parse_event(payload)
        self._update(event)
        return event

    def _update(self, event: StreamEvent) -> None:
        final = self.final
        final.task_id = event.task_id or final.task_id
        final.message_id = event.message_id or final.message_id
        final.conversation_id = event.conversation_id or final.conversation_id
        final.workflow_run_id = event.workflow_run_id or final.workflow_run_id
        if isinstance(event, MessageReplaceEvent):
            self.parts = [event.answer]
        elif isinstance(event, TextReplaceEvent):
            self.parts = [event.data.text]
        elif delta := text_delta(event):
            self.parts.append(delta)
        if isinstance(event, WorkflowStartedEvent):
            self.is_workflow = True
        elif isinstance(event, MessageEndEvent):
            final.metadata = event.metadata
            final.message_id = event.id or final.message_id
            self.complete = not self.is_workflow
        elif isinstance(event, WorkflowFinishedEvent):
            final.outputs, final.status = event.data.outputs, event.data.status
            self.complete = True
        elif isinstance(event, ErrorEvent):
            self.complete = True
            raise StreamError(
                event.message or "stream failed",
                status=event.status or 500,
                code=event.code or "internal_server_error",
                body=event.model_dump(),
            )
        final.answer = "".join(self.parts)


class _StreamCore:
    """What `ChatStream` and `AsyncChatStream` share: the state learned from the events,
    the ids it holds, events read ahead (by `stop`), and when a dropped connection may be
    reopened. The two classes add only their I/O."""

    def __init__(self, response: httpx.Response, *, resumable: bool, max_resumes: int) -> None:
        self.response = response
        self.state = StreamState()
        self._resumable, self._max_resumes = resumable, max_resumes
        self._pending: deque[StreamEvent] = deque()
        self._stopped = False

    @property
    def task_id(self) -> str | None:
        return self.state.final.task_id

    @property
    def conversation_id(self) -> str | None:
        return self.state.final.conversation_id

    @property
    def message_id(self) -> str | None:
        return self.state.final.message_id

    def _can_resume(self, resumes: int) -> bool:
        return (
            self._resumable
            and not self._stopped
            and not self.state.complete
            and self.task_id is not None
            and self.state.last_event_id is not None
            and resumes < self._max_resumes
        )

    def _resume_point(self) -> tuple[str, str]:
        """The task and the last event id to reopen the stream from (`_can_resume`)."""
        task_id, last = self.task_id, self.state.last_event_id
        assert task_id is not None and last is not None
        return task_id, last


StopFn = Callable[[str], Result]
ResumeFn = Callable[[str, str], httpx.Response]


class ChatStream(_StreamCore):
    """A streaming chat (or workflow) run. Use as a context manager or iterate to the end."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        stop: StopFn,
        resume: ResumeFn | None = None,
        max_resumes: int = 3,
    ) -> None:
        super().__init__(response, resumable=resume is not None, max_resumes=max_resumes)
        self._stop, self._resume = stop, resume
        self._gen = self._read()

    def __iter__(self) -> Iterator[StreamEvent]:
        while self._pending:
            yield self._pending.popleft()
        yield from self._gen

    def text_deltas(self) -> Iterator[str]:
        """Only the answer text, chunk by chunk."""
        for event in self:
            if delta := text_delta(event):
                yield delta

    def final_answer(self) -> str:
        """Read to the end and return the whole answer."""
        return self.get_final_message().answer

    def get_final_message(self) -> FinalMessage:
        for _ in self:
            pass
        return self.state.final

    def stop(self) -> Result:
        """Ask the server to stop this run; the stream then ends promptly."""
        while self.task_id is None:
            event = next(self._gen, None)
            if event is None:
                raise RuntimeError("the stream ended before it carried a task_id")
            self._pending.append(event)
        self._stopped = True
        return self._stop(self.task_id)

    def close(self) -> None:
        self._gen.close()
        self.response.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _read(self) -> Generator[StreamEvent, None, None]:
        resumes = 0
        try:
            while True:
                try:
                    for sse in iter_sse(self.response.iter_lines()):
                        if (event := self.state.accept(sse)) is not None:
                            yield event
                except httpx.TransportError as exc:
                    if not self._can_resume(resumes):
                        raise transport_error(exc) from exc
                if not self._can_resume(resumes):
                    return
                self.response.close()
                resumes += 1
                assert self._resume is not None
                self.response = self._resume(*self._resume_point())
        finally:
            self.response.close()


AsyncStopFn = Callable[[str], Awaitable[Result]]
AsyncResumeFn = Callable[[str, str], Awaitable[httpx.Response]]


class AsyncChatStream(_StreamCore):
    """The async twin of `ChatStream`."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        stop: AsyncStopFn,
        resume: AsyncResumeFn | None = None,
        max_resumes: int = 3,
    ) -> None:
        super().__init__(response, resumable=resume is not None, max_resumes=max_resumes)
        self._stop, self._resume = stop, resume
        self._gen = self._read()

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        while self._pending:
            yield self._pending.popleft()
        async for event in self._gen:
            yield event

    async def text_deltas(self) -> AsyncIterator[str]:
        async for event in self:
            if delta := text_delta(event):
                yield delta

    async def final_answer(self) -> str:
        return (await self.get_final_message()).answer

    async def get_final_message(self) -> FinalMessage:
        async for _ in self:
            pass
        return self.state.final

    async def stop(self) -> Result:
        while self.task_id is None:
            event = await anext(self._gen, None)
            if event is None:
                raise RuntimeError("the stream ended before it carried a task_id")
            self._pending.append(event)
        self._stopped = True
        return await self._stop(self.task_id)

    async def aclose(self) -> None:
        await self._gen.aclose()
        await self.response.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _read(self) -> AsyncGenerator[StreamEvent, None]:
        resumes = 0
        try:
            while True:
                try:
                    async for sse in aiter_sse(self.response.aiter_lines()):
                        if (event := self.state.accept(sse)) is not None:
                            yield event
                except httpx.TransportError as exc:
                    if not self._can_resume(resumes):
                        raise transport_error(exc) from exc
                if not self._can_resume(resumes):
                    return
                await self.response.aclose()
                resumes += 1
                assert self._resume is not None
                self.response = await self._resume(*self._resume_point())
        finally:
            await self.response.aclose()
