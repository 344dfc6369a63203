"""One chat turn, end to end: records, variable pool, the run, its stream and its save.

`ChatService.start` does the synchronous part of `POST /chat-messages` (find or create
the end user and conversation, check inputs, insert the running message and workflow run
in one transaction) and starts the run as a task registered with the runtime, so a stop
request can cancel it. The run task publishes the engine's events to the turn's event
stream as they come, saves everything in one transaction at the end, and only then
publishes the closing `TurnEnded`. Streaming responses read the event stream; blocking
ones wait for the task.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatflow.engine.events import Event
from chatflow.engine.files import File, to_json
from chatflow.engine.nodes.base import Turn
from chatflow.engine.nodes.start import coerce_inputs
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.errors import InvalidRequest, NotFound
from chatflow.ids import uuid4, uuid7
from chatflow.observability import metrics as m
from chatflow.services.apps import LoadedApp
from chatflow.services.features import TurnFeatures
from chatflow.services.file_inputs import build_files, build_inputs, restore_inputs
from chatflow.services.files import FileService, RunsWithFiles
from chatflow.services.generation import generate_name, query_name
from chatflow.services.human_input import HumanInputService
from chatflow.services.idle import IdleGate
from chatflow.services.recorder import TurnRecorder, changed_variables, run_end
from chatflow.services.run_slots import RunSlots, gated
from chatflow.services.secrets import masked
from chatflow.services.stream_items import turn_meta
from chatflow.services.tool_files import ToolFileService
from chatflow.services.turn import (
    HISTORY_TURNS,
    RunDeps,
    TurnEnded,
    TurnHandle,
    TurnInfo,
    engine_history,
    owner_key,
)
from chatflow.store import conversation_variables as variables_repo
from chatflow.store import conversations as conversations_repo
from chatflow.store import end_users as end_users_repo
from chatflow.store import messages as messages_repo
from chatflow.store import turns as turns_repo
from chatflow.store.lifecycle import RunStart

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("chatflow.chat")

NEW_CONVERSATION_NAME = "New conversation"
_END_USER_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A parsed `POST /chat-messages` body (see `api/schemas.py` for the tolerant parsing)."""

    query: str
    user: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    conversation_id: str | None = None
    files: Sequence[Mapping[str, Any]] = ()
    auto_generate_name: bool = True
    # False for `response_mode: blocking`: the run's events are not published, only its end.
    streaming: bool = True


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What a turn starts from: its end user, files, inputs and conversation state."""

    end_user_id: str
    session_id: str
    files: list[File]
    conversation_id: str
    dialogue_count: int
    inputs: dict[str, Any]
    values: dict[str, Any]
    history: Sequence[messages_repo.HistoryTurn]
    # A new conversation's `name`, `inputs` and `introduction`; None to continue one.
    new_conversation: dict[str, Any] | None


class ChatService(RunsWithFiles):
    def __init__(
        self,
        deps: RunDeps,
        pauses: HumanInputService,
        features: TurnFeatures | None = None,
        *,
        naming_backlog: int,
    ) -> None:
        self._db = deps.db
        self._store = deps.store
        self._engine = deps.engine
        self._tasks = deps.tasks
        self.streams = deps.streams
        self.files: FileService | None = deps.files
        self.tool_files: ToolFileService | None = deps.tool_files
        self.limits = deps.limits
        self.run_slots: RunSlots = deps.run_slots  # shared with the other run services
        # Moderation and annotation reply around the graph run (None: the graph only).
        self._features = features
        # Conversations waiting to be named by the model, which names one at a time and only
        # while no turn runs (`IdleGate`). Under sustained load new conversations come
        # faster than that: past `naming_backlog` waiting, a new conversation is named after
        # its query at once, as in an app without a model, instead of queueing without end.
        self._naming: set[asyncio.Task[Any]] = set()
        self.naming_backlog = naming_backlog
        self._end_users: dict[tuple[str, str], tuple[str, str]] = {}
        # Background model work (naming) runs only while no turn does.
        self._idle = IdleGate()
        # Drives every turn: saves it when it ends, and when it pauses at human input.
        self._pauses = pauses

    async def start(self, app: LoadedApp, request: ChatRequest, *, caller: str = "") -> TurnHandle:
        """Create the turn's records and start its run; raises before anything runs.
        `caller` (`run_slots.key_caller`/`web_caller`) picks the run limits that apply."""
        if app.mode not in ("advanced-chat", "chat", "agent-chat"):
            raise InvalidRequest(
                "Please check if your app mode matches the right API route.", code="not_chat_app"
            )
        self.limits.check(
            query=request.query,
            user=request.user,
            inputs=request.inputs,
            files=request.files,
            file_rules=app.dsl.features.file_upload,
        )
        return await gated(self.run_slots, app.id, caller, lambda: self._start(app, request))

    async def _start(self, app: LoadedApp, request: ChatRequest) -> TurnHandle:
        query = request.query.replace("\x00", "")
        # Row keys are time-ordered (chatflow/ids.py); the task id, which can stop the run,
        # stays fully random.
        task_id, message_id, run_id = uuid4(), uuid7(), uuid7()
        declared = app.dsl.conversation_variables
        key = (app.id, request.user or end_users_repo.DEFAULT_USER)
        end_user = self._end_users.get(key) or await self._find_end_user(key)
        name_now = self._names_now(app, request)
        # The common case, a known user starting a conversation without files, reads
        # nothing more; the rest reads in a session first. Either way the turn's rows are
        # then written in one transaction.
        if end_user is None or request.conversation_id or request.files or app.takes_file_inputs:
            async with self._db.session() as session:
                prepared = await self._prepare(session, app, request, end_user, name_now)
            if end_user is None:
                self._remember_end_user(key, (prepared.end_user_id, prepared.session_id))
        else:
            prepared = self._new_conversation(
                app, request, end_user, [], dict(request.inputs), name_now=name_now
            )
        end_user_id, session_id = prepared.end_user_id, prepared.session_id
        conversation_id, inputs, files = prepared.conversation_id, prepared.inputs, prepared.files
        new = not request.conversation_id
        start = turns_repo.start_turn_rows(
            app_id=app.id,
            end_user_id=end_user_id,
            conversation_id=conversation_id,
            new_conversation=prepared.new_conversation,
            message_id=message_id,
            query=query,
            inputs=to_json(inputs),
            files=[f.to_dict() for f in files],
            run_id=run_id,
            workflow_id=app.workflow_id,
            variables=[
                variables_repo.VariableValue(
                    variable_id=var.id or var.name,
                    name=var.name,
                    value_type=var.value_type,
                    value=var.value,
                    description=var.description,
                )
                for var in declared
            ]
            if new
            else (),
        )
        # A blocking turn's rows can wait for its end and go in the same transaction (one
        # commit): no client can see its ids before the response. Not when the run may
        # pause (the pause is saved against them) or record an annotation hit.
        held = not request.streaming and not app.can_pause and not await self._annotated(app)
        if not held:
            await self._store.start(start)
        info = TurnInfo(
            task_id=task_id,
            message_id=message_id,
            conversation_id=conversation_id,
            workflow_run_id=run_id,
            workflow_id=app.workflow_id,
            created_at=int(start.created_at.timestamp()),
            mode=app.chat_mode,
            end_user_id=end_user_id,
            user=session_id,
        )
        pool = VariablePool(
            system={
                "query": query,
                "files": files,
                "conversation_id": conversation_id,
                "user_id": session_id,
                "dialogue_count": prepared.dialogue_count,
                "app_id": app.id,
                "workflow_id": app.workflow_id,
                "workflow_run_id": run_id,
            },
            environment=app.dsl.environment(),
            conversation=prepared.values,
        )
        turns = engine_history(prepared.history)
        await self.streams.open(task_id, meta=turn_meta(app.id, info))
        task = asyncio.create_task(
            self._run(
                app,
                info,
                pool,
                inputs,
                turns,
                publish_events=request.streaming,
                held=start if held else None,
            ),
            name=f"chat-turn-{task_id}",
        )
        self._tasks.register(task_id, owner_key(app.id, end_user_id), task)
        self._idle.turn_started(task)
        if new and request.auto_generate_name and not name_now:
            self._spawn(self._name_after(app, info, task, query))
        return TurnHandle(info=info, task=task)

    def _names_now(self, app: LoadedApp, request: ChatRequest) -> bool:
        """Whether a new conversation of this turn is named after its query when it is
        created (no model to name it, or too many names already waiting for it), rather
        than by the model after the turn."""
        if not request.auto_generate_name:
            return False
        return app.model is None or len(self._naming) >= self.naming_backlog

    async def _prepare(
        self,
        session: AsyncSession,
        app: LoadedApp,
        request: ChatRequest,
        end_user: tuple[str, str] | None,
        name_now: bool,
    ) -> _Prepared:
        """The turn's end user, files, inputs and conversation state, read in `session`
        (the end user is created on first use)."""
        if end_user is None:
            row = await end_users_repo.get_or_create_end_user(session, app.id, request.user)
            end_user = (row.id, row.session_id)
        end_user_id = end_user[0]
        # Request files become `File`s (local uploads of this user; remote URLs).
        files = await build_files(session, app, end_user_id, request.files)
        if not request.conversation_id:
            raw = await build_inputs(session, app, end_user_id, app.input_variables, request.inputs)
            return self._new_conversation(app, request, end_user, files, raw, name_now=name_now)
        conversation = await conversations_repo.get_conversation(
            session,
            app_id=app.id,
            end_user_id=end_user_id,
            conversation_id=request.conversation_id,
        )
        if conversation is None:
            raise NotFound("Conversation Not Exists.")
        stored = await variables_repo.load_conversation_variables(session, conversation.id)
        values = {var.name: var.value for var in app.dsl.conversation_variables}
        values.update({row.name: row.value for row in stored})
        return _Prepared(
            end_user_id=end_user_id,
            session_id=end_user[1],
            files=files,
            conversation_id=conversation.id,
            dialogue_count=conversation.dialogue_count + 1,
            # Dify: a continued conversation keeps the inputs it started with.
            inputs=restore_inputs(app.input_variables, dict(conversation.inputs)),
            values=values,
            history=await messages_repo.history(session, conversation.id, HISTORY_TURNS),
            new_conversation=None,
        )

    @staticmethod
    def _new_conversation(
        app: LoadedApp,
        request: ChatRequest,
        end_user: tuple[str, str],
        files: list[File],
        raw: dict[str, Any],
        *,
        name_now: bool,
    ) -> _Prepared:
        """A new conversation's start; `raw` are the request's inputs (files built).
        `name_now`: named after the query now, with no rename after the turn."""
        inputs = coerce_inputs(app.input_variables, raw)
        name = query_name(request.query.replace("\x00", "")) if name_now else NEW_CONVERSATION_NAME
        return _Prepared(
            end_user_id=end_user[0],
            session_id=end_user[1],
            files=files,
            conversation_id=uuid7(),
            dialogue_count=1,
            inputs=inputs,
            # A new conversation has no history or stored variables.
            values=app.dsl.initial_conversation_variables(),
            history=(),
            new_conversation={
                "name": name,
                "inputs": to_json(inputs),
                "introduction": app.dsl.features.opening_statement,
            },
        )

    async def _annotated(self, app: LoadedApp) -> bool:
        return self._features is not None and await self._features.annotations.reply_enabled(app.id)

    async def _find_end_user(self, key: tuple[str, str]) -> tuple[str, str] | None:
        """`(id, session_id)` of an existing end user (then cached), or None.

        End-user rows never change or go away, so they are cached: one read fewer per
        message.
        """
        found = await turns_repo.find_end_user_id(self._db, *key)
        if found is not None:
            self._remember_end_user(key, found)
        return found

    def _remember_end_user(self, key: tuple[str, str], found: tuple[str, str]) -> None:
        if len(self._end_users) >= _END_USER_CACHE_SIZE:
            self._end_users.clear()  # crude, but bounded; rebuilt one read per user
        self._end_users[key] = found

    async def stop(self, app: LoadedApp, task_id: str, user: str) -> bool:
        """Stop the user's running turn; Dify answers success whatever happened."""
        async with self._db.session() as session:
            end_user = await end_users_repo.find_end_user(session, app.id, user)
        if end_user is None:
            return False
        return await self._tasks.stop(task_id, owner_key(app.id, end_user.id))

    @property
    def names_waiting(self) -> int:
        """New conversations waiting for the model to name them."""
        return len(self._naming)

    async def close(self) -> None:
        """Cancel background work (conversation naming) at shutdown."""
        for task in list(self._naming):
            task.cancel()
        if self._naming:
            await asyncio.wait(list(self._naming), timeout=5)

    async def _run(
        self,
        app: LoadedApp,
        info: TurnInfo,
        pool: VariablePool,
        inputs: Mapping[str, Any],
        history: Sequence[Turn],
        *,
        publish_events: bool = True,
        held: RunStart | None = None,
    ) -> TurnEnded:
        recorder = TurnRecorder(time.time(), mode=info.mode)
        secrets = app.masker

        def graph() -> AsyncIterator[Event]:
            events = run_graph(
                app.graph,
                pool=pool,
                services=self._run_services(app.id, info.user),
                history=history,
                run_id=info.workflow_run_id,
                inputs=inputs,
            )
            return masked(events, secrets)

        query = str(pool.get(("sys", "query"), ""))
        features = (
            self._features.around(app, info, query=query, inputs=inputs) if self._features else None
        )
        events = features.events(graph) if features else graph()
        finish = features.finish if features else None
        declared = app.dsl.conversation_variables

        async def save(end: TurnEnded) -> None:
            changed = changed_variables(recorder, pool, declared)
            await self._store.finish(run_end(info, end, recorder, variables=changed), held=held)

        return await self._pauses.run(
            app,
            info,
            events,
            recorder,
            pool,
            save=save,
            finish=finish,
            publish_events=publish_events,
        )

    async def _name_after(
        self, app: LoadedApp, info: TurnInfo, turn: asyncio.Task[TurnEnded], query: str
    ) -> None:
        """Dify names a new conversation with the model, off the request's path.

        Runs after the turn, so it never competes with the answer for the model.
        """
        await asyncio.wait([turn])
        make = functools.partial(generate_name, self._engine.models, app.graph, query)
        # The model is shared with the users' turns: name only while none runs.
        name = await self._idle.run(make)
        await turns_repo.name_conversation(
            self._db,
            app_id=app.id,
            end_user_id=info.end_user_id,
            conversation_id=info.conversation_id,
            name=name,
            placeholder=NEW_CONVERSATION_NAME,
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._naming.add(task)
        m.NAMES_WAITING.inc()
        task.add_done_callback(self._naming_done)

    def _naming_done(self, task: asyncio.Task[Any]) -> None:
        self._naming.discard(task)
        m.NAMES_WAITING.dec()
        if not task.cancelled() and task.exception() is not None:
            log.warning("background task failed: %s", task.exception())
