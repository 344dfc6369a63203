"""`TurnFeatures` around a turn, in Dify's order: input moderation answers instead of
the graph, then an annotation reply, then output moderation replaces a flagged answer.
The graph run is a stand-in generator here: what is tested is what the features do
around it (and whether it ran at all)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from chatflow.engine import events as ev
from chatflow.providers.base import Usage
from chatflow.services import Services
from chatflow.services.annotations import ReplySettings
from chatflow.services.apps import LoadedApp
from chatflow.services.features import ANNOTATION_AUTHOR, TurnFeatures
from chatflow.services.turn import TurnEnded, TurnInfo

from .conftest import DSL, load
from .test_annotations import wait_for_job


def _info(app: LoadedApp) -> TurnInfo:
    return TurnInfo(
        task_id="t",
        message_id="m1",
        conversation_id="c",
        workflow_run_id="r",
        workflow_id="w",
        created_at=0,
        mode="advanced-chat",
        end_user_id="eu",
        user="alice",
    )


def _graph(answer: str) -> tuple[list[bool], Callable[[], AsyncIterator[ev.Event]]]:
    ran: list[bool] = []

    async def run() -> AsyncIterator[ev.Event]:
        ran.append(True)
        yield ev.TextChunk(text=answer, from_node_id="answer")
        yield ev.RunFinished(
            run_id="r", status="succeeded", outputs={"answer": answer}, error=None,
            started_at=0.0, finished_at=1.0, total_tokens=0, total_steps=3,
        )  # fmt: skip

    return ran, run


async def _turn(
    services: Services, app: LoadedApp, query: str, answer: str, **inputs: str
) -> tuple[list[ev.Event], bool, TurnFeatures]:
    features = TurnFeatures(services.annotations, services.moderation)
    run = features.around(app, _info(app), query=query, inputs=inputs)
    ran, graph = _graph(answer)
    events = [event async for event in run.events(graph)]
    assert run.graph_ran is bool(ran)
    return events, run.graph_ran, features


@pytest.fixture
async def moderated(services: Services) -> LoadedApp:
    return await load(services, (DSL / "moderated.yml").read_text())


async def test_flagged_inputs_are_answered_with_the_preset_and_the_graph_never_runs(
    services: Services, moderated: LoadedApp
) -> None:
    events, ran, _ = await _turn(services, moderated, "hello", "x", topic="Forbidden things")
    assert not ran
    assert [type(e) for e in events] == [ev.TextChunk, ev.RunFinished]
    assert events[0].text == "Sorry, I cannot talk about that."  # type: ignore[attr-defined]
    end = events[-1]
    assert isinstance(end, ev.RunFinished)
    assert (end.status, end.outputs, end.run_id) == (
        "succeeded",
        {"answer": "Sorry, I cannot talk about that."},
        "r",
    )


async def test_a_flagged_answer_is_replaced_before_the_runs_end(
    services: Services, moderated: LoadedApp
) -> None:
    events, ran, _ = await _turn(services, moderated, "hello", "hi my friend")
    assert ran
    kinds = [type(e) for e in events]
    assert kinds == [ev.TextChunk, ev.TextReplace, ev.RunFinished]
    assert events[1].text == "The answer was withheld."  # type: ignore[attr-defined]
    clean, _, _ = await _turn(services, moderated, "hello", "all good")
    assert [type(e) for e in clean] == [ev.TextChunk, ev.RunFinished]


async def test_an_unsupported_moderation_type_fails_the_turn_readably(services: Services) -> None:
    app = await load(services, (DSL / "moderated_api.yml").read_text())
    events, ran, _ = await _turn(services, app, "hello", "x")
    assert not ran
    (end,) = events
    assert isinstance(end, ev.RunFinished) and end.status == "failed"
    assert end.error is not None and "API-based extension" in end.error


async def test_an_annotation_answers_with_its_metadata_and_a_recorded_hit(
    services: Services, echo: LoadedApp
) -> None:
    annotations = services.annotations
    note = await annotations.create(echo.id, question="opening hours", answer="9 to 5")
    job = await annotations.start_job(echo.id, "enable", ReplySettings(score_threshold=0.9))
    assert await wait_for_job(annotations, echo.id, "enable", job.id) == "completed"
    features = TurnFeatures(annotations, services.moderation)
    run = features.around(echo, _info(echo), query="opening hours", inputs={})
    ran, graph = _graph("from the graph")
    events = [event async for event in run.events(graph)]
    assert not ran and events[0].text == "9 to 5"  # type: ignore[attr-defined]
    end = run.finish(
        TurnEnded(run=events[-1], answer="9 to 5", usage=Usage(), retriever_resources=[{"x": 1}])  # type: ignore[arg-type]
    )
    assert end.annotation_reply == {
        "id": note.id,
        "account": {"id": echo.id, "name": ANNOTATION_AUTHOR},
    }
    assert end.graph_ran is False
    assert end.retriever_resources == ()  # the app does not show citations
    assert (await annotations.list_page(echo.id, page=1, limit=5, keyword=None)).items[
        0
    ].hit_count == 1
