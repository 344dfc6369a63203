"""Engine events -> Dify's chatflow SSE wire frames (the only place that knows them).

Framing is `data: {json}\\n\\n` with the event name inside the JSON; keep-alives are
`event: ping\\n\\n`, sent on connect and whenever the stream has been idle for
`ping_interval` seconds. Every frame carries `task_id`, `conversation_id`, `message_id`
and an integer `created_at`; workflow and node frames carry `workflow_run_id`.

Order (DESIGN.md section 2): `workflow_started`, node frames, `message`*, `message_end`,
`workflow_finished`. A failed run ends `workflow_finished` (failed) then `error`, with no
`message_end`. Basic chat apps (`mode: chat`) send only the message frames, as Dify does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, TypeVar

from starlette.responses import StreamingResponse

from chatflow.api._json import dumps
from chatflow.api._sse_human_input import HumanInputEvent, human_input_data, paused_data
from chatflow.engine import events as ev
from chatflow.engine.files import File
from chatflow.observability import metrics as m
from chatflow.providers.embedded import MODEL_QUEUE
from chatflow.services.turn import StreamItem, TurnEnded, TurnInfo

PING = b"event: ping\n\n"
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}
Frame = dict[str, Any]
T = TypeVar("T")


def frame(payload: Mapping[str, Any]) -> bytes:
    """One SSE frame: `data: {json}` and a blank line."""
    return b"data: " + dumps(payload) + b"\n\n"


def output_files(outputs: Mapping[str, Any]) -> list[File]:
    """Every file among a node's or run's outputs (Dify's `fetch_files_from_node_outputs`):
    what `files` lists in `node_finished` / `workflow_finished` (a tool's files, say)."""
    found: list[File] = []
    for value in outputs.values():
        items = value if isinstance(value, list | tuple) else (value,)
        found.extend(item for item in items if isinstance(item, File))
    return found


def _ts(seconds: float) -> int:
    return math.floor(seconds)


def _scope(scope: ev.ContainerScope) -> dict[str, Any]:
    return {"iteration_id": scope.iteration_id, "loop_id": scope.loop_id}


def _execution_metadata(event: ev.NodeFinished) -> dict[str, Any] | None:
    meta: dict[str, Any] = {}
    if event.usage is not None:
        meta.update(
            total_tokens=event.usage.total_tokens,
            total_price=str(event.usage.total_price),
            currency=event.usage.currency,
        )
    scope = event.scope
    if scope.iteration_id is not None:
        meta.update(iteration_id=scope.iteration_id, iteration_index=scope.iteration_index)
    if scope.loop_id is not None:
        meta.update(loop_id=scope.loop_id, loop_index=scope.loop_index)
    if event.handle == "fail-branch" or event.status == "exception":
        meta["error_strategy"] = "fail-branch" if event.handle == "fail-branch" else "default-value"
    return meta or None


class ChatStreamEncoder:
    """Turns one turn's stream items into wire frames; holds the little state Dify's
    framing needs (which LLM nodes streamed text, for the closing empty `message`)."""

    def __init__(self, info: TurnInfo) -> None:
        self.info = info
        self.workflow_events = info.mode != "chat"
        self._streamed: dict[str, tuple[str, ...]] = {}  # node id -> selector that streamed
        self._closed_streams: set[str] = set()

    # -- frame helpers ---------------------------------------------------------------

    def _base(self, event: str) -> Frame:
        info = self.info
        return {
            "event": event,
            "conversation_id": info.conversation_id,
            "message_id": info.message_id,
            "created_at": info.created_at,
            "task_id": info.task_id,
        }

    def _workflow(self, event: str, data: Mapping[str, Any]) -> Frame:
        out = self._base(event)
        out["workflow_run_id"] = self.info.workflow_run_id
        out["data"] = data
        return out

    def _message(self, answer: str, selector: tuple[str, ...] | None) -> Frame:
        out = self._base("message")
        out["id"] = self.info.message_id
        out["answer"] = answer
        out["from_variable_selector"] = list(selector) if selector else None
        return out

    # -- mapping ---------------------------------------------------------------------

    def encode(self, item: StreamItem) -> list[Frame]:
        """The wire frames for one stream item (often one, sometimes none or two)."""
        if isinstance(item, ev.TextChunk):
            return self._text(item)
        if isinstance(item, TurnEnded):
            return self._ended(item)
        if isinstance(item, ev.TextReplace):
            out = self._base("message_replace")
            out.update(answer=item.text, reason="output_moderation")
            return [out]
        if not self.workflow_events:
            return []
        if isinstance(item, ev.RunStarted):
            return [self._workflow("workflow_started", self._run_started(item))]
        if isinstance(item, ev.NodeStarted):
            self._closed_streams.discard(item.node_id)  # a node may run again (loops)
            return [self._workflow("node_started", self._node_started(item))]
        if isinstance(item, ev.NodeFinished):
            frames = self._close_llm_stream(item)
            frames.append(self._workflow("node_finished", self._node_finished(item)))
            frames.extend(self._message_files(item))
            return frames
        if isinstance(item, HumanInputEvent):
            event, data = human_input_data(item)
            return [self._workflow(event, data)]
        return self._container(item)

    def _run_started(self, event: ev.RunStarted) -> Frame:
        return {
            "id": event.run_id,
            "workflow_id": self.info.workflow_id,
            "inputs": dict(event.inputs),
            "created_at": _ts(event.started_at),
            "reason": event.reason,
        }

    def _node_started(self, event: ev.NodeStarted) -> Frame:
        return {
            "id": event.execution_id,
            "node_id": event.node_id,
            "node_type": event.node_type,
            "title": event.title,
            "index": event.index,
            "predecessor_node_id": event.predecessor_node_id,
            "inputs": dict(event.inputs),
            "created_at": _ts(event.started_at),
            "extras": {},
            **_scope(event.scope),
            "parallel_id": None,
            "parallel_start_node_id": None,
        }

    def _node_finished(self, event: ev.NodeFinished) -> Frame:
        return {
            "id": event.execution_id,
            "node_id": event.node_id,
            "node_type": event.node_type,
            "title": event.title,
            "index": event.index,
            "predecessor_node_id": event.predecessor_node_id,
            "inputs": dict(event.inputs),
            "process_data": dict(event.process_data),
            "outputs": dict(event.outputs),
            "status": event.status,
            "error": event.error,
            "elapsed_time": round(event.elapsed, 6),
            "execution_metadata": _execution_metadata(event),
            "created_at": _ts(event.started_at),
            "finished_at": _ts(event.finished_at),
            "files": output_files(event.outputs),
            **_scope(event.scope),
            "parallel_id": None,
            "parallel_start_node_id": None,
        }

    def _text(self, event: ev.TextChunk) -> list[Frame]:
        selector = event.from_variable_selector or None
        if event.from_node_id and event.from_node_id not in self._closed_streams:
            if event.text:
                self._streamed[event.from_node_id] = event.from_variable_selector
            elif event.from_node_id in self._streamed:
                # The engine sent its own closing empty chunk; do not send a second one.
                self._closed_streams.add(event.from_node_id)
        return [self._message(event.text, selector)]

    def _message_files(self, event: ev.NodeFinished) -> list[Frame]:
        """A `message_file` frame for each file an answer node shows (`belongs_to`
        assistant), right after that node finishes."""
        if event.node_type != "answer" or event.status != "succeeded":
            return []
        frames: list[Frame] = []
        for file in event.outputs.get("files") or ():
            if isinstance(file, File):
                out = self._base("message_file")
                out.update(id=file.id or "", type=file.type, belongs_to="assistant", url=file.url)
                frames.append(out)
        return frames

    def _close_llm_stream(self, event: ev.NodeFinished) -> list[Frame]:
        """Dify ends each streamed LLM answer with an empty-answer `message` frame."""
        selector = self._streamed.pop(event.node_id, None)
        if event.node_type != "llm" or selector is None or event.node_id in self._closed_streams:
            return []
        self._closed_streams.add(event.node_id)
        return [self._message("", selector or None)]

    def _ended(self, end: TurnEnded) -> list[Frame]:
        if end.paused is not None:  # Dify ends a paused run's stream with workflow_paused
            data = paused_data(end.paused, self.info.workflow_run_id)
            return [self._workflow("workflow_paused", data)] if self.workflow_events else []
        frames: list[Frame] = []
        if end.error is None:
            message_end = self._base("message_end")
            message_end.update(id=self.info.message_id, metadata=end.metadata(), files=[])
            frames.append(message_end)
        if self.workflow_events and end.graph_ran:
            frames.append(self._workflow("workflow_finished", self._run_finished(end)))
        if end.error is not None:
            error = self._base("error")
            error.update(status=end.error.status, code=end.error.code, message=end.error.message)
            frames.append(error)
        return frames

    def _run_finished(self, end: TurnEnded) -> Frame:
        run = end.run
        return {
            "id": self.info.workflow_run_id,
            "workflow_id": self.info.workflow_id,
            "status": run.status,
            "outputs": dict(run.outputs),
            "error": run.error,
            "elapsed_time": round(run.elapsed, 6),
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_by": {"id": self.info.end_user_id, "user": self.info.user},
            "created_at": _ts(run.started_at),
            "finished_at": _ts(run.finished_at),
            "exceptions_count": run.exceptions_count,
            "files": output_files(run.outputs),
        }

    def _container(self, item: StreamItem) -> list[Frame]:
        """Iteration, loop, retry and agent-log frames."""
        if isinstance(item, ev.IterationStarted | ev.LoopStarted):
            kind = "iteration" if isinstance(item, ev.IterationStarted) else "loop"
            data = {
                "id": item.execution_id,
                "node_id": item.node_id,
                "node_type": kind,
                "title": item.title,
                "inputs": dict(item.inputs),
                "metadata": dict(item.metadata),
                "created_at": _ts(item.started_at),
                "extras": {},
            }
            return [self._workflow(f"{kind}_started", data)]
        if isinstance(item, ev.IterationNext | ev.LoopNext):
            kind = "iteration" if isinstance(item, ev.IterationNext) else "loop"
            data = {
                "id": item.execution_id,
                "node_id": item.node_id,
                "node_type": kind,
                "title": item.title,
                "index": item.index,
                "created_at": _ts(item.started_at),
                "extras": {},
            }
            if isinstance(item, ev.LoopNext):
                data["pre_loop_output"] = dict(item.pre_loop_output)
            return [self._workflow(f"{kind}_next", data)]
        if isinstance(item, ev.IterationCompleted | ev.LoopCompleted):
            kind = "iteration" if isinstance(item, ev.IterationCompleted) else "loop"
            usage = item.usage
            data = {
                "id": item.execution_id,
                "node_id": item.node_id,
                "node_type": kind,
                "title": item.title,
                "inputs": dict(item.inputs),
                "outputs": dict(item.outputs),
                "status": item.status,
                "error": item.error,
                "elapsed_time": round(item.finished_at - item.started_at, 6),
                "total_tokens": usage.total_tokens if usage else 0,
                "execution_metadata": {"total_tokens": usage.total_tokens} if usage else None,
                "created_at": _ts(item.started_at),
                "finished_at": _ts(item.finished_at),
                "steps": item.steps,
                "extras": {},
            }
            return [self._workflow(f"{kind}_completed", data)]
        if isinstance(item, ev.NodeRetry):
            data = {
                "id": item.execution_id,
                "node_id": item.node_id,
                "node_type": item.node_type,
                "title": item.title,
                "index": item.index,
                "error": item.error,
                "retry_index": item.retry_index,
                "created_at": _ts(item.started_at),
                **_scope(item.scope),
            }
            return [self._workflow("node_retry", data)]
        if isinstance(item, ev.AgentLog):
            data = {
                "node_execution_id": item.execution_id,
                "node_id": item.node_id,
                "id": item.id,
                "label": item.label,
                "parent_id": item.parent_id,
                "error": item.error,
                "status": item.status,
                "data": dict(item.data),
                "metadata": dict(item.metadata),
            }
            return [self._workflow("agent_log", data)]
        return []


async def encode_stream(
    items: AsyncIterator[tuple[int, StreamItem]],
    encoder: ChatStreamEncoder,
    *,
    ping_interval: float,
) -> AsyncIterator[bytes]:
    """SSE bytes for a turn: a ping first, the frames, a ping whenever idle."""
    yield PING
    async with contextlib.aclosing(with_pings(items, ping_interval)) as entries:
        async for entry in entries:
            if entry is None:
                yield PING
                continue
            _, item = entry
            for payload in encoder.encode(item):
                yield frame(payload)
            if isinstance(item, TurnEnded):
                return


# How many items `with_pings` reads ahead of its consumer.
_READ_AHEAD = 64


async def with_pings(items: AsyncIterator[T], interval: float) -> AsyncGenerator[T | None, None]:
    """`items`, and None whenever `interval` seconds pass without one (time to ping).

    A task reads `items` into a queue, so the wait for the next item can time out without
    cancelling the read (cancelling `anext` would close the generator), and an item costs
    no task or `asyncio.wait` of its own: a token is one queue hand-over.
    """
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize=_READ_AHEAD)

    async def read() -> None:
        try:
            async for item in items:
                await queue.put((True, item))
        except Exception as exc:  # raised to the consumer, in order
            await queue.put((False, exc))
            return
        await queue.put((False, None))

    reader = asyncio.create_task(read())
    try:
        while True:
            if queue.empty():
                try:
                    async with asyncio.timeout(interval):
                        ok, value = await queue.get()
                except TimeoutError:
                    yield None
                    continue
            else:
                ok, value = queue.get_nowait()
            if not ok:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


async def _counted(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`body`, counted in `chatflow_open_streams` while a client is being written to."""
    m.OPEN_STREAMS.inc()
    try:
        async for chunk in body:
            yield chunk
    finally:
        m.OPEN_STREAMS.dec()
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    """The streaming response with Dify's headers, and `X-Chatflow-Model-Queue`: how many
    embedded-model requests of this worker were waiting for a slot when it started (the
    client's place in the queue; 0 means its answer starts at once)."""
    headers = {**SSE_HEADERS, "X-Chatflow-Model-Queue": str(MODEL_QUEUE.waiting)}
    return StreamingResponse(
        _counted(body), media_type="text/event-stream; charset=utf-8", headers=headers
    )
