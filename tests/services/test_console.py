"""`ConsoleService` over in-memory SQLite after real turns: the apps list with keys and
site, a key revoked stops authenticating at once (not after the key cache expires), the
graph with default positions, runs paged and shown with their nodes only within their
app, per-day metrics, and an app's conversations and messages."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from chatflow.errors import NotFound, Unauthorized
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.chat import ChatRequest
from chatflow.store.models import WorkflowRun

from .conftest import ECHO, load


async def _turns(services: Services, app: LoadedApp, count: int) -> list[str]:
    conversation_id: str | None = None
    runs = []
    for i in range(count):
        request = ChatRequest(
            query=f"q{i}", user="ann", conversation_id=conversation_id, streaming=False
        )
        handle = await services.chat.start(app, request)
        await handle.wait()
        conversation_id = handle.info.conversation_id
        runs.append(handle.info.workflow_run_id)
    return runs


async def test_apps_keys_and_sites(services: Services, echo: LoadedApp) -> None:
    console = services.console
    created = await console.create_key(echo.id)
    assert (await services.apps.authenticate(created.token)).id == echo.id  # cached now
    [app] = [a for a in await console.apps() if a["id"] == echo.id]
    assert app["site"] is None and created.id in [k["id"] for k in app["keys"]]
    assert created.token not in str(app)  # only a prefix is shown

    await console.revoke_key(echo.id, created.id)
    with pytest.raises(Unauthorized):
        await services.apps.authenticate(created.token)
    with pytest.raises(NotFound):
        await console.revoke_key(echo.id, created.id)

    site = await console.set_site(echo.id, True, operator_login=True)
    [app] = [a for a in await console.apps() if a["id"] == echo.id]
    assert app["site"] == {"code": site.code, "enabled": True, "has_passcode": False,
                           "operator_login": True}  # fmt: skip
    for call in (console.create_key("nope"), console.set_site("nope", True)):
        with pytest.raises(NotFound):
            await call


async def test_graph_of_the_dsl(services: Services, echo: LoadedApp) -> None:
    graph = await services.console.graph(echo.id)
    assert [(n["id"], n["type"], n["x"]) for n in graph["nodes"]] == [
        ("start", "start", 0.0),
        ("bump", "assigner", 260.0),  # no editor position: laid out left to right
        ("answer", "answer", 520.0),
    ]
    assert graph["edges"] == [
        {"source": "start", "target": "bump"},
        {"source": "bump", "target": "answer"},
    ]


async def test_runs_metrics_and_conversations_stay_within_their_app(
    services: Services, echo: LoadedApp
) -> None:
    console = services.console
    runs = await _turns(services, echo, 3)
    other = await load(services, ECHO.replace("name: echo", "name: other"))
    [other_run] = await _turns(services, other, 1)
    async with services.db.session() as session:  # one run failed
        await session.execute(
            update(WorkflowRun).where(WorkflowRun.id == runs[0]).values(status="failed")
        )

    listed = await console.runs(echo.id, 1)
    assert {r["id"] for r in listed["data"]} == set(runs) and not listed["has_more"]
    assert (await console.runs(echo.id, 2))["data"] == []
    detail = await console.run(echo.id, runs[1])
    assert [n["node_id"] for n in detail["nodes"]] == ["start", "bump", "answer"]
    assert detail["outputs"] == {"answer": "echo q1 #2", "files": []}
    with pytest.raises(NotFound):
        await console.run(echo.id, other_run)  # another app's run

    metrics = await console.metrics(echo.id, 7)
    assert len(metrics["days"]) == 7
    days = metrics["days"]
    # Summed: the runs may straddle midnight UTC.
    assert sum(d["runs"] for d in days) == 3 and sum(d["errors"] for d in days) == 1
    assert all(d["latency"] == 0.0 for d in days if d["runs"] == 0)
    assert [d["date"] for d in days] == sorted(d["date"] for d in days)
    assert sum(d["runs"] for d in (await console.metrics(other.id, 1))["days"]) <= 1

    [conversation] = (await console.conversations(echo.id, 1))["data"]
    assert conversation["dialogue_count"] == 3
    messages = await console.messages(echo.id, conversation["id"])
    assert [m["answer"] for m in messages] == ["echo q0 #1", "echo q1 #2", "echo q2 #3"]
    assert await console.messages(other.id, conversation["id"]) == []
    assert await console.annotation_reply(echo.id) == {"enabled": False, "score_threshold": None}
    with pytest.raises(NotFound):
        await console.require_app("nope")
