"""`client.workflows`: run details and logs; and, for workflow-mode apps, run and stop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx

from .._base import RESUME_OPT_IN_HEADER, Operation, body, parse_json
from .._models import Result, WorkflowLogList, WorkflowRunDetail, WorkflowRunResponse
from .._streaming import AsyncChatStream, ChatStream
from ._resource import AsyncResource, SyncResource
from .chat import FileRef, files_json, resume_op

LogStatus = Literal["succeeded", "failed", "stopped"]


def _get_run(workflow_run_id: str) -> Operation[WorkflowRunDetail]:
    return Operation("GET", f"/workflows/run/{workflow_run_id}", parse_json(WorkflowRunDetail))


def _logs(params: Mapping[str, str | int | None]) -> Operation[WorkflowLogList]:
    return Operation("GET", "/workflows/logs", parse_json(WorkflowLogList), params=params)


def _run(
    mode: str,
    inputs: Mapping[str, Any] | None,
    user: str,
    files: Sequence[FileRef] | None,
    resumable: bool = False,
) -> Operation[WorkflowRunResponse]:
    payload = body(
        inputs=dict(inputs or {}), response_mode=mode, user=user, files=files_json(files)
    )
    headers = {RESUME_OPT_IN_HEADER: "true"} if resumable else {}
    return Operation(
        "POST", "/workflows/run", parse_json(WorkflowRunResponse), json=payload, headers=headers
    )


def _stop(task_id: str, user: str) -> Operation[Result]:
    path = f"/workflows/tasks/{task_id}/stop"
    return Operation("POST", path, parse_json(Result), json={"user": user})


class Workflows(SyncResource):
    def get_run(self, workflow_run_id: str) -> WorkflowRunDetail:
        return self._client.request(_get_run(workflow_run_id))

    def logs(
        self,
        *,
        keyword: str | None = None,
        status: LogStatus | None = None,
        page: int | None = None,
        limit: int | None = None,
        created_at__before: str | None = None,
        created_at__after: str | None = None,
        created_by_end_user_session_id: str | None = None,
        created_by_account: str | None = None,
    ) -> WorkflowLogList:
        params = {k: v for k, v in locals().items() if k != "self"}
        return self._client.request(_logs(params))

    def run(
        self,
        *,
        user: str,
        inputs: Mapping[str, Any] | None = None,
        files: Sequence[FileRef] | None = None,
    ) -> WorkflowRunResponse:
        """Workflow App API, blocking mode. Never retried once sent."""
        return self._client.request(_run("blocking", inputs, user, files))

    def stream(
        self,
        *,
        user: str,
        inputs: Mapping[str, Any] | None = None,
        files: Sequence[FileRef] | None = None,
        resumable: bool = False,
    ) -> ChatStream:
        """Workflow App API, streaming mode; text arrives as `text_chunk` events."""
        response = self._client.open_stream(_run("streaming", inputs, user, files, resumable))

        def resume(task_id: str, last: str) -> httpx.Response:
            op = resume_op(f"/workflows/tasks/{task_id}/events", user, last)
            return self._client.open_stream(op)

        return ChatStream(
            response,
            stop=lambda task_id: self.stop(task_id, user=user),
            resume=resume if resumable else None,
        )

    def stop(self, task_id: str, *, user: str) -> Result:
        return self._client.request(_stop(task_id, user))


class AsyncWorkflows(AsyncResource):
    async def get_run(self, workflow_run_id: str) -> WorkflowRunDetail:
        return await self._client.request(_get_run(workflow_run_id))

    async def logs(
        self,
        *,
        keyword: str | None = None,
        status: LogStatus | None = None,
        page: int | None = None,
        limit: int | None = None,
        created_at__before: str | None = None,
        created_at__after: str | None = None,
        created_by_end_user_session_id: str | None = None,
        created_by_account: str | None = None,
    ) -> WorkflowLogList:
        params = {k: v for k, v in locals().items() if k != "self"}
        return await self._client.request(_logs(params))

    async def run(
        self,
        *,
        user: str,
        inputs: Mapping[str, Any] | None = None,
        files: Sequence[FileRef] | None = None,
    ) -> WorkflowRunResponse:
        return await self._client.request(_run("blocking", inputs, user, files))

    async def stream(
        self,
        *,
        user: str,
        inputs: Mapping[str, Any] | None = None,
        files: Sequence[FileRef] | None = None,
        resumable: bool = False,
    ) -> AsyncChatStream:
        op = _run("streaming", inputs, user, files, resumable)

        async def stop(task_id: str) -> Result:
            return await self.stop(task_id, user=user)

        async def resume(task_id: str, last: str) -> httpx.Response:
            path = f"/workflows/tasks/{task_id}/events"
            return await self._client.open_stream(resume_op(path, user, last))

        return AsyncChatStream(
            await self._client.open_stream(op), stop=stop, resume=resume if resumable else None
        )

    async def stop(self, task_id: str, *, user: str) -> Result:
        return await self._client.request(_stop(task_id, user))
