"""Engine events -> Dify's *workflow app* SSE frames (`POST /workflows/run`).

The node, iteration and loop frames are the chatflow ones (`ChatStreamEncoder` builds
their `data`); what differs is the envelope and the text. Every frame is
`{event, workflow_run_id, task_id, data}` with no conversation or message ids, text
streams as `text_chunk` (`data: {text, from_variable_selector}`), and the run ends with
`workflow_finished` alone, `failed` and `stopped` runs included (no `error` frame and
no `message_end`), as Dify's workflow task pipeline does; a run that pauses at a
human-input node ends with `human_input_required` and `workflow_paused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatflow.api._sse_human_input import paused_data
from chatflow.api.sse import ChatStreamEncoder, Frame
from chatflow.engine import events as ev
from chatflow.services.turn import TurnEnded, TurnInfo


class WorkflowStreamEncoder(ChatStreamEncoder):
    def __init__(self, info: TurnInfo) -> None:
        super().__init__(info)
        self.workflow_events = True

    def _base(self, event: str) -> Frame:
        return {
            "event": event,
            "workflow_run_id": self.info.workflow_run_id,
            "task_id": self.info.task_id,
        }

    def _workflow(self, event: str, data: Mapping[str, Any]) -> Frame:
        out = self._base(event)
        out["data"] = data
        return out

    def _text(self, event: ev.TextChunk) -> list[Frame]:
        if not event.text:
            return []  # the closing empty chunk is a chatflow `message` convention
        selector = list(event.from_variable_selector) or None
        return [
            self._workflow("text_chunk", {"text": event.text, "from_variable_selector": selector})
        ]

    def _close_llm_stream(self, event: ev.NodeFinished) -> list[Frame]:
        return []

    def _message_files(self, event: ev.NodeFinished) -> list[Frame]:
        return []  # workflow apps have no messages

    def encode(self, item: Any) -> list[Frame]:
        if isinstance(item, ev.TextReplace):
            return [self._workflow("text_replace", {"text": item.text})]
        return super().encode(item)

    def _ended(self, end: TurnEnded) -> list[Frame]:
        if end.paused is not None:
            return [
                self._workflow(
                    "workflow_paused", paused_data(end.paused, self.info.workflow_run_id)
                )
            ]
        return [self._workflow("workflow_finished", self._run_finished(end))]


def blocking_payload(info: TurnInfo, end: TurnEnded) -> dict[str, Any]:
    """The blocking `/workflows/run` body: `{task_id, workflow_run_id, data}`."""
    run = end.run
    return {
        "task_id": info.task_id,
        "workflow_run_id": info.workflow_run_id,
        "data": {
            "id": info.workflow_run_id,
            "workflow_id": info.workflow_id,
            "status": run.status,
            "outputs": dict(run.outputs),
            "error": run.error,
            "elapsed_time": round(run.elapsed, 6),
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_at": int(run.started_at),
            "finished_at": int(run.finished_at),
        },
    }
