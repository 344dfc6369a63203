"""Workflow runs: `POST /workflows/run` and its stop, `/workflows/run/{id}`, `/workflows/logs`.

A workflow-mode app runs like a chat turn without the conversation: the run record is
inserted `running`, the run is a task registered with the runtime (so a stop cancels it),
its events go to the task's event stream, and the run and its node executions are saved
in one transaction before the closing `TurnEnded` is published. A run that reaches a
human-input node pauses and resumes as a chat turn does (`services/human_input.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chatflow.engine.files import to_json
from chatflow.engine.nodes.start import InputVariable, coerce_inputs
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.errors import InvalidRequest, NotFound
from chatflow.ids import uuid4, uuid7
from chatflow.services.apps import LoadedApp
from chatflow.services.file_inputs import build_files, build_inputs
from chatflow.services.files import FileService, RunsWithFiles
from chatflow.services.human_input import HumanInputService
from chatflow.services.recorder import TurnRecorder, run_end
from chatflow.services.run_slots import RunSlots, gated
from chatflow.services.secrets import masked
from chatflow.services.stream_items import turn_meta
from chatflow.services.tool_files import ToolFileService
from chatflow.services.turn import RunDeps, TurnEnded, TurnHandle, TurnInfo, owner_key
from chatflow.store import NumberedPage
from chatflow.store import end_users as end_users_repo
from chatflow.store import runs as runs_repo
from chatflow.store import turns as turns_repo
from chatflow.store.models import NodeExecution, WorkflowRun

WRONG_MODE = "Please check if your app mode matches the right API route."
LOG_STATUSES = ("succeeded", "failed", "stopped")


@dataclass(frozen=True, slots=True)
class WorkflowRequest:
    """A parsed `POST /workflows/run` body."""

    user: str | None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    files: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class LogQuery:
    """`GET /workflows/logs` filters, as strings from the query (validated here)."""

    status: str | None = None
    keyword: str | None = None
    created_at__before: str | None = None
    created_at__after: str | None = None
    created_by_end_user_session_id: str | None = None
    created_by_account: str | None = None
    page: int = 1
    limit: int = 20


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # Normalised here: 0001-01-01T00:00+00:01 has no UTC time and must not reach SQL.
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequest(f"{name}: invalid ISO 8601 datetime") from None
    except OverflowError:
        raise InvalidRequest(f"{name}: datetime out of range") from None


class WorkflowService(RunsWithFiles):
    def __init__(self, deps: RunDeps, pauses: HumanInputService) -> None:
        self._db = deps.db
        self._store = deps.store
        self._engine = deps.engine
        self._tasks = deps.tasks
        self.streams = deps.streams
        # Drives every run: saves it when it ends, and when it pauses at human input.
        self._pauses = pauses
        self.files: FileService | None = deps.files
        self.tool_files: ToolFileService | None = deps.tool_files
        self.limits = deps.limits
        self.run_slots: RunSlots = deps.run_slots  # shared with the other run services

    async def start(
        self, app: LoadedApp, request: WorkflowRequest, *, caller: str = ""
    ) -> TurnHandle:
        """Check the request, record the run and start it; raises before anything runs.
        `caller` (`run_slots.key_caller`/`web_caller`) picks the run limits that apply."""
        if app.mode != "workflow":
            raise InvalidRequest(WRONG_MODE, code="not_workflow_app")
        if not request.user:
            raise InvalidRequest("Arg user must be provided.")
        self.limits.check(
            user=request.user,
            inputs=request.inputs,
            files=request.files,
            file_rules=app.dsl.features.file_upload,
        )
        return await gated(self.run_slots, app.id, caller, lambda: self._start(app, request))

    async def _start(self, app: LoadedApp, request: WorkflowRequest) -> TurnHandle:
        assert request.user is not None
        task_id, run_id = uuid4(), uuid7()  # the run id keys a row (chatflow/ids.py)
        variables = [InputVariable.model_validate(v) for v in app.dsl.start_variables()]
        async with self._db.session() as session:
            end_user = await end_users_repo.get_or_create_end_user(session, app.id, request.user)
            raw = await build_inputs(session, app, end_user.id, variables, request.inputs)
            inputs = coerce_inputs(variables, raw)
            files = await build_files(session, app, end_user.id, request.files)
        start = turns_repo.start_run_rows(
            app_id=app.id,
            workflow_id=app.workflow_id,
            run_id=run_id,
            inputs=to_json(inputs),
            end_user_id=end_user.id,
        )
        await self._store.start(start)
        info = TurnInfo(
            task_id=task_id,
            message_id="",
            conversation_id="",
            workflow_run_id=run_id,
            workflow_id=app.workflow_id,
            created_at=int(start.created_at.timestamp()),
            mode="workflow",
            end_user_id=end_user.id,
            user=end_user.session_id,
        )
        pool = VariablePool(
            system={
                "files": files,
                "user_id": end_user.session_id,
                "app_id": app.id,
                "workflow_id": app.workflow_id,
                "workflow_run_id": run_id,
            },
            environment=app.dsl.environment(),
        )
        await self.streams.open(task_id, meta=turn_meta(app.id, info))
        task = asyncio.create_task(self._run(app, info, pool, inputs), name=f"workflow-{task_id}")
        self._tasks.register(task_id, owner_key(app.id, end_user.id), task)
        return TurnHandle(info=info, task=task)

    async def stop(self, app: LoadedApp, task_id: str) -> None:
        """Stop a run of this app; Dify does not check which user started it."""
        if app.mode != "workflow":
            raise InvalidRequest(WRONG_MODE, code="not_workflow_app")
        owner = await self._tasks.find_owner(task_id)  # on any worker
        if owner is not None and owner.startswith(f"{app.id}:"):
            await self._tasks.stop(task_id, owner)

    async def _run(
        self, app: LoadedApp, info: TurnInfo, pool: VariablePool, inputs: Mapping[str, Any]
    ) -> TurnEnded:
        recorder = TurnRecorder(time.time())
        events = masked(
            run_graph(
                app.graph,
                pool=pool,
                services=self._run_services(app.id, info.user),
                run_id=info.workflow_run_id,
                inputs=inputs,
            ),
            app.masker,
        )

        async def save(end: TurnEnded) -> None:
            await self._store.finish(run_end(info, end, recorder))

        return await self._pauses.run(app, info, events, recorder, pool, save=save)

    async def stop_own(self, app: LoadedApp, task_id: str, user: str) -> None:
        """Stop a run only if this end user started it (the chat sites' stop)."""
        if app.mode != "workflow":
            raise InvalidRequest(WRONG_MODE, code="not_workflow_app")
        async with self._db.session() as session:
            end_user = await end_users_repo.find_end_user(session, app.id, user)
        if end_user is not None:
            await self._tasks.stop(task_id, owner_key(app.id, end_user.id))

    # -- run records ---------------------------------------------------------------------

    async def detail(self, app: LoadedApp, run_id: str) -> WorkflowRun:
        """`GET /workflows/run/{id}`: chatflow and workflow apps only, as in Dify."""
        if app.mode not in ("workflow", "advanced-chat"):
            raise InvalidRequest(WRONG_MODE, code="not_workflow_app")
        async with self._db.session() as session:
            run = await runs_repo.get_run(session, app_id=app.id, run_id=run_id)
        if run is None:
            raise NotFound("Workflow run not found.")
        return run

    async def logs(self, app: LoadedApp, query: LogQuery) -> NumberedPage[runs_repo.RunLog]:
        """`GET /workflows/logs` with Dify's parameter checks."""
        if query.status and query.status not in LOG_STATUSES:
            raise InvalidRequest(f"status: must be one of {', '.join(LOG_STATUSES)}")
        if not 1 <= query.page <= 99999:
            raise InvalidRequest("page: must be between 1 and 99999")
        if not 1 <= query.limit <= 100:
            raise InvalidRequest("limit: must be between 1 and 100")
        if query.created_by_account:
            # Runs here are only ever started by end users through the API.
            raise InvalidRequest(f"Account not found: {query.created_by_account}")
        async with self._db.session() as session:
            return await runs_repo.list_runs(
                session,
                app_id=app.id,
                status=query.status,
                keyword=query.keyword,
                created_before=_when(query.created_at__before, "created_at__before"),
                created_after=_when(query.created_at__after, "created_at__after"),
                end_user_session_id=query.created_by_end_user_session_id,
                page=query.page,
                limit=query.limit,
            )

    # -- one end user's runs (the chat sites) -------------------------------------------

    async def user_runs(
        self, app: LoadedApp, user: str, *, page: int, limit: int
    ) -> NumberedPage[WorkflowRun]:
        """This end user's runs of a workflow app, newest first."""
        if app.mode != "workflow":
            raise InvalidRequest(WRONG_MODE, code="not_workflow_app")
        if not 1 <= page <= 99999:
            raise InvalidRequest("page: must be between 1 and 99999")
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit: must be between 1 and 100")
        async with self._db.session() as session:
            end_user = await end_users_repo.find_end_user(session, app.id, user)
            if end_user is None:
                return NumberedPage(items=[], page=page, limit=limit, total=0)
            return await runs_repo.list_end_user_runs(
                session, app_id=app.id, end_user_id=end_user.id, page=page, limit=limit
            )

    async def user_run(
        self, app: LoadedApp, user: str, run_id: str
    ) -> tuple[WorkflowRun, list[NodeExecution]]:
        """One of this end user's runs with its node executions; another's is not found."""
        if app.mode != "workflow":
            raise InvalidRequest(WRONG_MODE, code="not_workflow_app")
        async with self._db.session() as session:
            end_user = await end_users_repo.find_end_user(session, app.id, user)
            run = await runs_repo.get_run(session, app_id=app.id, run_id=run_id)
            owner = end_user.id if end_user is not None else None
            if run is None or owner is None or run.created_by_end_user_id != owner:
                raise NotFound("Workflow run not found.")
            if run.message_id is not None:  # a chat turn's run: not a workflow run here
                raise NotFound("Workflow run not found.")
            return run, await runs_repo.list_node_executions(session, run.id)
