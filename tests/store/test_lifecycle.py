"""A run's lifecycle through `TurnStore` (the one `RunStore`): start, pause, pause again,
claim, finish as a resumed segment; and a workflow run, on SQLite and Postgres.

The pause shares the end's statements (message, node executions, variables) and adds its
own (run status, pause record, forms); what it writes must read back through the ORM.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from chatflow.engine.files import File
from chatflow.store import Database
from chatflow.store import human_input as pauses_repo
from chatflow.store import runs as runs_repo
from chatflow.store import turns as turns_repo
from chatflow.store.conversation_variables import VariableValue, load_conversation_variables
from chatflow.store.lifecycle import MessageEnd, NewForm, RunEnd, RunPause, RunStore
from chatflow.store.models import HumanInputForm, Message, NodeExecution, WorkflowRun
from chatflow.store.runs import NodeExecutionRecord

from .conftest import World, make_world

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def _world(db: Database) -> World:
    async with db.session() as session:
        return await make_world(session)


def _end(
    run_id: str, message_id: str, conversation_id: str, *, status: str, answer: str, node: str
) -> RunEnd:
    message_status = "paused" if status == "paused" else "normal"
    return RunEnd(
        run_id=run_id,
        status=status,
        outputs={"answer": answer} if status != "paused" else {},
        error=None,
        elapsed_time=0.5,
        total_tokens=4,
        total_steps=2,
        exceptions_count=0,
        finished_at=NOW,
        nodes=[NodeExecutionRecord(node_id=node, node_type="answer", status="succeeded", index=1)],
        message=MessageEnd(
            message_id=message_id,
            answer=answer,
            status=message_status,
            error=None,
            message_tokens=1,
            answer_tokens=3,
            usage={"total_tokens": 4},
            latency=0.5,
            metadata={"usage": {"total_tokens": 4}},
        ),
        conversation_id=conversation_id,
        variables=[VariableValue("v1", "counter", "number", len(answer))],
        resumed=status != "paused",
    )


async def _start_turn(store: RunStore, world: World) -> tuple[str, str, str]:
    """A new conversation's turn, started (`running`); its conversation, message and run ids."""
    conversation_id, message_id, run_id = (str(uuid.uuid4()) for _ in range(3))
    await store.start(
        turns_repo.start_turn_rows(
            app_id=world.app_id,
            end_user_id=world.alice,
            conversation_id=conversation_id,
            new_conversation={"name": "n", "inputs": {}, "introduction": ""},
            message_id=message_id,
            query="q",
            inputs={},
            files=[],
            run_id=run_id,
            workflow_id="w",
        )
    )
    return conversation_id, message_id, run_id


def _form(node_id: str) -> NewForm:
    return NewForm(
        id=str(uuid.uuid4()),
        node_id=node_id,
        node_title="Approve",
        form_token=uuid.uuid4().hex,
        definition={"form_content": "ok?", "inputs": [], "user_actions": []},
        expiration_time=NOW + timedelta(hours=1),
    )


async def test_pause_pause_again_claim_and_finish(db: Database) -> None:
    world = await _world(db)
    store: RunStore = turns_repo.TurnStore(db)
    conversation_id, message_id, run_id = await _start_turn(store, world)
    first = _form("h1")
    pause = RunPause(
        app_id=world.app_id,
        end_user_id=world.alice,
        task_id="task-1",
        state={"version": 1, "waiting": {"h1": {}}},
        turn={"answer": "so far"},
        forms=[first],
    )
    paused = _end(run_id, message_id, conversation_id, status="paused", answer="so far", node="a")
    await store.pause(paused, pause)

    async with db.session() as session:
        message = await session.get(Message, message_id)
        run = await session.get(WorkflowRun, run_id)
        record = await pauses_repo.get_pause(session, run_id)
        forms = list(await session.scalars(select(HumanInputForm)))
    assert message is not None and (message.status, message.answer) == ("paused", "so far")
    # A pause keeps the run's other fields until its end.
    assert run is not None and (run.status, run.finished_at, run.total_steps) == ("paused", None, 0)
    assert record is not None and (record.status, record.task_id) == ("paused", "task-1")
    assert record.state["waiting"] == {"h1": {}}
    assert [(f.id, f.status) for f in forms] == [(first.id, "waiting")]

    # Resumed, then paused again at a second form: the record is updated, the first form
    # (already recorded) is left as it is, the second added.
    resumed = await store.claim(run_id, "task-2")
    assert resumed is not None and resumed.turn == {"answer": "so far"}
    assert await store.claim(run_id, "task-3") is None  # one segment at a time
    second = _form("h2")
    again = RunPause(
        app_id=world.app_id,
        end_user_id=world.alice,
        task_id="task-2",
        state={"version": 1, "waiting": {"h2": {}}},
        turn={"answer": "more"},
        forms=[first, second],
    )
    await store.pause(
        _end(run_id, message_id, conversation_id, status="paused", answer="more", node="b"), again
    )
    async with db.session() as session:
        record = await pauses_repo.get_pause(session, run_id)
        forms = list(await session.scalars(select(HumanInputForm)))
    assert record is not None and (record.status, record.task_id) == ("paused", "task-2")
    assert record.turn == {"answer": "more"}
    assert sorted(f.node_id for f in forms) == ["h1", "h2"]

    assert await store.claim(run_id, "task-4") is not None
    await store.finish(
        _end(run_id, message_id, conversation_id, status="succeeded", answer="done", node="c")
    )
    async with db.session() as session:
        message = await session.get(Message, message_id)
        run = await session.get(WorkflowRun, run_id)
        record = await pauses_repo.get_pause(session, run_id)
        nodes = list(await session.scalars(select(NodeExecution.node_id)))
        variables = await load_conversation_variables(session, conversation_id)
    assert message is not None and (message.status, message.answer) == ("normal", "done")
    assert run is not None and (run.status, run.outputs, run.finished_at) == (
        "succeeded",
        {"answer": "done"},
        NOW,
    )
    assert record is not None and record.status == "finished"
    assert sorted(nodes) == ["a", "b", "c"]  # every segment's node executions are kept
    assert [(v.name, v.value) for v in variables] == [("counter", 4)]


async def test_a_workflow_run_starts_and_finishes_with_its_files_as_dify_dicts(
    db: Database,
) -> None:
    world = await _world(db)
    store = turns_repo.TurnStore(db)
    run_id = str(uuid.uuid4())
    start = turns_repo.start_run_rows(
        app_id=world.app_id,
        workflow_id="w",
        run_id=run_id,
        inputs={"x": 1},
        end_user_id=world.alice,
    )
    await store.start(start)
    file = File(type="image", transfer_method="remote_url", url="https://x/y.png")
    await store.finish(
        RunEnd(
            run_id=run_id,
            status="succeeded",
            outputs={"files": [file]},
            error=None,
            elapsed_time=0.1,
            total_tokens=0,
            total_steps=1,
            exceptions_count=0,
            finished_at=NOW,
            nodes=[
                NodeExecutionRecord(
                    node_id="end",
                    node_type="end",
                    status="succeeded",
                    index=1,
                    outputs={"file": file},
                )
            ],
        )
    )
    async with db.session() as session:
        run = await session.get(WorkflowRun, run_id)
        node = await session.scalar(select(NodeExecution))
    assert run is not None and run.status == "succeeded" and run.message_id is None
    assert run.created_at == start.created_at
    assert run.outputs == {"files": [file.to_dict()]}
    assert node is not None and node.outputs == {"file": file.to_dict()}


async def test_core_connections_work_on_the_inline_sqlite_driver(db: Database) -> None:
    """SQLAlchemy Core on an `AsyncConnection` (what the knowledge index uses), on both
    backends: statements, many-row parameters, results read after the statement."""
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE probe (n INTEGER)"))
        await conn.execute(text("INSERT INTO probe (n) VALUES (:n)"), [{"n": 1}, {"n": 2}])
        result = await conn.execute(text("SELECT n FROM probe ORDER BY n"))
        assert result.scalars().all() == [1, 2]
        assert await conn.scalar(text("SELECT count(*) FROM probe")) == 2


async def test_a_run_whose_worker_died_fails_once_with_its_streamed_answer(db: Database) -> None:
    """`fail_interrupted` (the orphan closer's write): the running run and its message
    fail, the answer streamed so far kept, the run's other fields as they were; a second
    call, or a run that ended meanwhile, changes nothing and says so."""
    world = await _world(db)
    store: RunStore = turns_repo.TurnStore(db)
    _, message_id, run_id = await _start_turn(store, world)
    assert await store.fail_interrupted(run_id, "half an ans") is True
    async with db.session() as session:
        message = await session.get(Message, message_id)
        run = await session.get(WorkflowRun, run_id)
    assert message is not None
    assert (message.status, message.error, message.answer) == (
        "error",
        runs_repo.INTERRUPTED,
        "half an ans",
    )
    assert run is not None and (run.status, run.error) == ("failed", runs_repo.INTERRUPTED)
    assert run.finished_at is not None and run.total_steps == 0
    finished_at = run.finished_at

    # Already ended: nothing changes, and the caller learns it did not end it.
    assert await store.fail_interrupted(run_id, "other") is False
    async with db.session() as session:
        message = await session.get(Message, message_id)
        run = await session.get(WorkflowRun, run_id)
    assert message is not None and message.answer == "half an ans"
    assert run is not None and run.finished_at == finished_at

    # A run that finished normally is left alone.
    done_id = str(uuid.uuid4())
    await store.start(
        turns_repo.start_run_rows(
            app_id=world.app_id, workflow_id="w", run_id=done_id, inputs={}, end_user_id=None
        )
    )
    await store.finish(
        RunEnd(
            run_id=done_id,
            status="succeeded",
            outputs={"x": 1},
            error=None,
            elapsed_time=0.1,
            total_tokens=0,
            total_steps=1,
            exceptions_count=0,
            finished_at=NOW,
        )
    )
    assert await store.fail_interrupted(done_id, "") is False
    async with db.session() as session:
        done = await session.get(WorkflowRun, done_id)
    assert done is not None and (done.status, done.error) == ("succeeded", None)


async def test_the_sweeper_fails_only_the_runs_still_running_and_counts_them(
    db: Database,
) -> None:
    """`fail_runs` (the multi-worker sweeper's write): each listed run still `running`
    fails with its message (whose answer so far is kept); a finished run, an unknown id
    and a second call change nothing and are not counted; an unlisted run is untouched."""
    world = await _world(db)
    store: RunStore = turns_repo.TurnStore(db)
    turns: list[tuple[str, str]] = []
    for _ in range(3):
        _, message_id, run_id = await _start_turn(store, world)
        turns.append((run_id, message_id))
    async with db.session() as session:  # an answer streamed so far stays
        message = await session.get(Message, turns[0][1])
        assert message is not None
        message.answer = "so far"
    done_id = str(uuid.uuid4())
    await store.start(
        turns_repo.start_run_rows(
            app_id=world.app_id, workflow_id="w", run_id=done_id, inputs={}, end_user_id=None
        )
    )
    await store.finish(
        RunEnd(
            run_id=done_id, status="succeeded", outputs={}, error=None, elapsed_time=0.1,
            total_tokens=0, total_steps=1, exceptions_count=0, finished_at=NOW,
        )
    )  # fmt: skip

    dead = [turns[0][0], turns[1][0], done_id, str(uuid.uuid4())]
    assert await store.fail_runs(dead) == 2
    assert await store.fail_runs(dead) == 0
    assert await store.fail_runs([]) == 0
    async with db.session() as session:
        for index, (run_id, message_id) in enumerate(turns):
            run = await session.get(WorkflowRun, run_id)
            message = await session.get(Message, message_id)
            assert run is not None and message is not None
            if index < 2:
                assert (run.status, run.error) == ("failed", runs_repo.INTERRUPTED)
                assert run.finished_at is not None
                assert (message.status, message.error) == ("error", runs_repo.INTERRUPTED)
            else:  # not listed: still running
                assert (run.status, message.status) == ("running", "running")
        message = await session.get(Message, turns[0][1])
        assert message is not None and message.answer == "so far"
        done = await session.get(WorkflowRun, done_id)
    assert done is not None and (done.status, done.error) == ("succeeded", None)


async def test_the_start_up_sweep_fails_what_was_running_before_the_cutoff(
    db: Database,
) -> None:
    """`fail_stale` (one process, at start-up): runs still `running` that started before
    the cutoff fail with their running messages; a finished run and a run started after
    the cutoff are left as they are."""
    world = await _world(db)
    store: RunStore = turns_repo.TurnStore(db)
    ids: dict[str, tuple[str, str]] = {}
    for name in ("stale", "fresh"):
        _, message_id, run_id = await _start_turn(store, world)
        ids[name] = (run_id, message_id)
    done_id = str(uuid.uuid4())
    await store.start(
        turns_repo.start_run_rows(
            app_id=world.app_id, workflow_id="w", run_id=done_id, inputs={}, end_user_id=None
        )
    )
    await store.finish(
        RunEnd(
            run_id=done_id, status="succeeded", outputs={}, error=None, elapsed_time=0.1,
            total_tokens=0, total_steps=1, exceptions_count=0, finished_at=NOW,
        )
    )  # fmt: skip
    old = NOW - timedelta(days=1)
    async with db.session() as session:
        for run_id in (ids["stale"][0], done_id):
            run = await session.get(WorkflowRun, run_id)
            assert run is not None
            run.created_at = old
        fresh = await session.get(WorkflowRun, ids["fresh"][0])
        assert fresh is not None
        fresh.created_at = NOW + timedelta(hours=1)

    assert await store.fail_stale(NOW) == 1
    assert await store.fail_stale(NOW) == 0  # nothing left to fail
    async with db.session() as session:
        stale_run = await session.get(WorkflowRun, ids["stale"][0])
        stale_message = await session.get(Message, ids["stale"][1])
        fresh_run = await session.get(WorkflowRun, ids["fresh"][0])
        fresh_message = await session.get(Message, ids["fresh"][1])
        done = await session.get(WorkflowRun, done_id)
    assert stale_run is not None and stale_message is not None
    assert (stale_run.status, stale_run.error) == ("failed", runs_repo.INTERRUPTED)
    assert stale_run.finished_at is not None
    assert (stale_message.status, stale_message.error) == ("error", runs_repo.INTERRUPTED)
    assert fresh_run is not None and fresh_message is not None
    assert (fresh_run.status, fresh_message.status) == ("running", "running")
    assert done is not None and (done.status, done.error) == ("succeeded", None)
