"""Human input end to end: pausing a turn, the forms, submitting and resuming.

When a chat turn's or workflow run's run pauses (`RunPaused`), `run` saves the partial
answer (message and run status `paused`), the engine's resume state and the forms, then
ends the stream with `workflow_paused`. Dify's Service API then drives the rest:

- `GET /form/human_input/{form_token}`: the form (`form`);
- `POST /form/human_input/{form_token}` `{inputs, action, user}`: `submit` marks the form
  submitted and resumes the run in a new task, on a new event stream;
- `GET /workflow/{run_id}/events?user=`: the stream of the run's latest segment.

A resumed segment continues the same message: its text is appended to the answer, and
it ends like a chat turn (`message_end` + `workflow_finished`; a workflow run's like a
workflow run) or pauses again. Forms
past their deadline are timed out by `sweep` (run on every form lookup and submission),
which resumes their runs on the `__timeout` branch, as Dify's node-level timeout does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from chatflow.engine.events import Event
from chatflow.engine.nodes.base import Turn
from chatflow.engine.nodes.human_input import (
    Config as HumanInputConfig,
)
from chatflow.engine.nodes.human_input import (
    FormSubmission,
    FormTimeout,
    SubmissionError,
    validate_submission,
)
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.errors import ChatflowError, InvalidRequest, NotFound
from chatflow.ids import uuid4
from chatflow.services.apps import AppService, LoadedApp
from chatflow.services.driver import Save, run_to_end
from chatflow.services.files import FileService, RunsWithFiles
from chatflow.services.recorder import TurnRecorder, changed_variables, run_end
from chatflow.services.secrets import masked
from chatflow.services.stream_items import turn_meta
from chatflow.services.tool_files import ToolFileService
from chatflow.services.turn import (
    HISTORY_TURNS,
    RunDeps,
    TurnEnded,
    TurnInfo,
    engine_history,
    owner_key,
    utc,
)
from chatflow.store import end_users as end_users_repo
from chatflow.store import human_input as repo
from chatflow.store import messages as messages_repo
from chatflow.store.conversation_variables import VariableValue
from chatflow.store.lifecycle import NewForm, RunPause
from chatflow.store.models import HumanInputForm


def form_submitted(form_id: str) -> ChatflowError:
    return ChatflowError(
        f"This form has already been submitted by another user, form_id={form_id}",
        code="human_input_form_submitted",
        status=412,
    )


def form_expired(form_id: str) -> ChatflowError:
    return ChatflowError(
        f"This form has expired, form_id={form_id}", code="human_input_form_expired", status=412
    )


def _string_defaults(values: Mapping[str, Any]) -> dict[str, str]:
    """Dify's `stringify_form_default_values`: clients get every default as a string."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value, ensure_ascii=False)
        else:
            out[key] = str(value)
    return out


class HumanInputService(RunsWithFiles):
    def __init__(self, deps: RunDeps, apps: AppService) -> None:
        self._db = deps.db
        self._store = deps.store
        self._engine = deps.engine
        self._tasks = deps.tasks
        self._streams = deps.streams
        self.files: FileService | None = deps.files
        self.tool_files: ToolFileService | None = deps.tool_files
        self._apps = apps

    # -- pausing -------------------------------------------------------------------------

    async def run(
        self,
        app: LoadedApp,
        info: TurnInfo,
        events: AsyncIterator[Event],
        recorder: TurnRecorder,
        pool: VariablePool,
        *,
        save: Save,
        finish: Callable[[TurnEnded], TurnEnded] | None = None,
        publish_events: bool = True,
    ) -> TurnEnded:
        """Drive a run (turn, workflow run or resumed segment) that may pause: `save`
        keeps it when it ends, a pause is saved here. A form of this run submitted while
        the segment ran resumes it as soon as its pause is saved. `publish_events`: as in
        `run_to_end`."""

        async def save_pause(end: TurnEnded) -> None:
            await self._save_pause(app, info, end, recorder, pool)

        end = await run_to_end(
            events,
            info=info,
            streams=self._streams,
            recorder=recorder,
            save=save,
            save_pause=save_pause,
            finish=finish,
            publish_events=publish_events,
        )
        if end.paused is not None:
            await self._resume_submitted(app, info.workflow_run_id)
        return end

    async def _save_pause(
        self,
        app: LoadedApp,
        info: TurnInfo,
        end: TurnEnded,
        recorder: TurnRecorder,
        pool: VariablePool,
    ) -> None:
        """Keep what the run did so far, its resume state and the forms it waits on."""
        paused = end.paused
        assert paused is not None
        forms = [
            NewForm(
                id=form.form_id,
                node_id=form.node_id,
                node_title=form.title,
                form_token=form.form_token,
                definition={
                    "form_content": form.form_content,
                    "inputs": [dict(i) for i in form.inputs],
                    "user_actions": [dict(a) for a in form.actions],
                    "resolved_default_values": dict(form.resolved_default_values),
                    "display_in_ui": form.display_in_ui,
                },
                expiration_time=utc(form.timeout_at or time.time()),
            )
            for form in paused.forms
        ]
        turn = {
            "message_id": info.message_id,
            "conversation_id": info.conversation_id,
            "workflow_id": info.workflow_id,
            "created_at": info.created_at,
            "mode": info.mode,
            "end_user_id": info.end_user_id,
            "user": info.user,
            "answer": end.answer,
            "retriever_resources": [dict(r) for r in end.retriever_resources],
        }
        changed = _changed(info, recorder, pool, app)
        pause = RunPause(
            app_id=app.id,
            end_user_id=info.end_user_id,
            task_id=info.task_id,
            state=paused.state,
            turn=turn,
            forms=forms,
        )
        await self._store.pause(run_end(info, end, recorder, variables=changed), pause)

    # -- the Service API -----------------------------------------------------------------

    async def form(self, app: LoadedApp, form_token: str, user: str | None) -> dict[str, Any]:
        """`GET /form/human_input/{form_token}`: the form while it can still be submitted."""
        await self.sweep()
        async with self._db.session() as session:
            form = await self._find(session, app, form_token, user)
        self._ensure_active(form)
        definition = form.definition
        return {
            "form_content": definition.get("form_content", ""),
            "inputs": definition.get("inputs", []),
            "resolved_default_values": _string_defaults(
                definition.get("resolved_default_values") or {}
            ),
            "user_actions": definition.get("user_actions", []),
            "expiration_time": int(form.expiration_time.timestamp()),
        }

    async def submit(
        self,
        app: LoadedApp,
        form_token: str,
        *,
        user: str,
        action: str,
        inputs: Mapping[str, Any],
    ) -> None:
        """`POST /form/human_input/{form_token}`: record the submission, resume the run."""
        await self.sweep()
        async with self._db.session() as session:
            form = await self._find(session, app, form_token, user)
            self._ensure_active(form)
            config = HumanInputConfig.model_validate(
                {"user_actions": form.definition.get("user_actions", []),
                 "inputs": form.definition.get("inputs", [])}
            )  # fmt: skip
            try:
                validate_submission(config, action, inputs)
            except SubmissionError as exc:
                raise InvalidRequest(str(exc), code="invalid_form_data") from None
            if not await repo.mark_submitted(session, form.id, action_id=action, data=inputs):
                raise form_submitted(form.id)
            run_id = form.workflow_run_id
        await self._resume_submitted(app, run_id)

    async def events(self, app: LoadedApp, run_id: str, user: str) -> TurnInfo:
        """`GET /workflow/{run_id}/events`: the ids of the run's latest segment, whose
        event stream (`task_id`) replays from its start."""
        await self.sweep()
        async with self._db.session() as session:
            end_user = await end_users_repo.find_end_user(session, app.id, user)
            pause = await repo.get_pause(session, run_id)
        if (
            pause is None
            or pause.app_id != app.id
            or end_user is None
            or pause.end_user_id != end_user.id
        ):
            raise NotFound("Workflow run not found")
        return _info(pause.task_id, run_id, pause.turn)

    # -- timeouts --------------------------------------------------------------------------

    async def sweep(self, now: datetime | None = None) -> int:
        """Time out every waiting form past its deadline and resume its run on the
        `__timeout` branch. Returns how many forms timed out."""
        async with self._db.session() as session:
            expired = await repo.time_out_expired(session, now or datetime.now(UTC))
        runs: dict[str, dict[str, Any]] = {}
        apps: dict[str, str] = {}
        for form in expired:
            runs.setdefault(form.workflow_run_id, {})[form.node_id] = FormTimeout(
                form.expiration_time.timestamp(), str(form.definition.get("form_content", ""))
            )
            apps[form.workflow_run_id] = form.app_id
        for run_id, decisions in runs.items():
            try:
                app = await self._apps.find(apps[run_id])
            except NotFound:
                continue
            await self._resume(app, run_id, decisions)
        return len(expired)

    # -- resuming --------------------------------------------------------------------------

    async def _resume_submitted(self, app: LoadedApp, run_id: str) -> None:
        async with self._db.session() as session:
            submitted = await repo.run_forms(session, run_id, status="submitted")
            pause = await repo.get_pause(session, run_id)
        if pause is None or pause.status != "paused":
            return
        waiting = set(pause.state.get("waiting", {}))
        decisions: dict[str, Any] = {
            form.node_id: FormSubmission(
                form.selected_action_id or "",
                dict(form.submitted_data or {}),
                str(form.definition.get("form_content", "")),
            )
            for form in submitted
            if form.node_id in waiting
        }
        if decisions:
            await self._resume(app, run_id, decisions)

    async def _resume(self, app: LoadedApp, run_id: str, decisions: Mapping[str, Any]) -> None:
        """Claim the paused run and continue it in a new task on a new event stream."""
        task_id = uuid4()
        claimed = await self._store.claim(run_id, task_id)
        if claimed is None:
            return  # a segment is running; its pause picks the decision up
        state, turn = claimed.state, claimed.turn
        info = _info(task_id, run_id, turn)
        await self._streams.open(task_id, meta=turn_meta(app.id, info))
        task = asyncio.create_task(
            self._segment(app, info, state, turn, decisions), name=f"chat-resume-{task_id}"
        )
        self._tasks.register(task_id, owner_key(app.id, info.end_user_id), task)

    async def _segment(
        self,
        app: LoadedApp,
        info: TurnInfo,
        state: Mapping[str, Any],
        turn: Mapping[str, Any],
        decisions: Mapping[str, Any],
    ) -> TurnEnded:
        """Continue a paused run; its answer and citations so far carry over."""
        recorder = TurnRecorder(time.time())
        if turn.get("answer"):
            recorder.parts.append(str(turn["answer"]))
        recorder.retriever_resources = list(turn.get("retriever_resources") or [])
        pool = VariablePool(environment=app.dsl.environment())
        turns: list[Turn] = []
        if info.message_id:
            async with self._db.session() as session:
                history = await messages_repo.history(
                    session, info.conversation_id, HISTORY_TURNS, before_message_id=info.message_id
                )
            turns = engine_history(history)
        events = masked(
            run_graph(
                app.graph,
                pool=pool,
                services=self._run_services(app.id, info.user),
                history=turns,
                resume_from=state,
                resume_input=decisions,
            ),
            app.masker,
        )

        async def save(end: TurnEnded) -> None:
            changed = _changed(info, recorder, pool, app)
            await self._store.finish(run_end(info, end, recorder, variables=changed, resumed=True))

        return await self.run(app, info, events, recorder, pool, save=save)

    # -- helpers ---------------------------------------------------------------------------

    async def _find(
        self, session: Any, app: LoadedApp, form_token: str, user: str | None
    ) -> HumanInputForm:
        """The app's form with this token; 404 also when it belongs to another user."""
        form = await repo.get_form_by_token(session, app_id=app.id, form_token=form_token)
        if form is None:
            raise NotFound("Form not found")
        if user:
            end_user = await end_users_repo.find_end_user(session, app.id, user)
            if end_user is None or end_user.id != form.end_user_id:
                raise NotFound("Form not found")
        return form

    @staticmethod
    def _ensure_active(form: HumanInputForm) -> None:
        """Dify's `ensure_form_active`: submitted or timed-out forms answer 412."""
        if form.status == "submitted":
            raise form_submitted(form.id)
        if form.status in ("timeout", "expired") or form.expiration_time <= datetime.now(UTC):
            raise form_expired(form.id)


def _changed(
    info: TurnInfo, recorder: TurnRecorder, pool: VariablePool, app: LoadedApp
) -> list[VariableValue]:
    """The conversation variables a chat turn changed; a workflow run has no conversation."""
    if info.mode == "workflow":
        return []
    return changed_variables(recorder, pool, app.dsl.conversation_variables)


def _info(task_id: str, run_id: str, turn: Mapping[str, Any]) -> TurnInfo:
    return TurnInfo(
        task_id=task_id,
        message_id=str(turn["message_id"]),
        conversation_id=str(turn["conversation_id"]),
        workflow_run_id=run_id,
        workflow_id=str(turn["workflow_id"]),
        created_at=int(turn["created_at"]),
        mode=str(turn["mode"]),
        end_user_id=str(turn["end_user_id"]),
        user=str(turn["user"]),
    )
