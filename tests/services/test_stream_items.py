"""A turn's stream items and meta as they travel between workers (bytes and JSON)."""

from __future__ import annotations

import json

from chatflow.engine import events as ev
from chatflow.engine.files import File
from chatflow.providers.base import Usage
from chatflow.services.stream_items import STREAM_CODEC, turn_from_meta, turn_meta
from chatflow.services.turn import TurnEnded, TurnError, TurnInfo


def _info() -> TurnInfo:
    return TurnInfo(
        task_id="t1",
        message_id="m1",
        conversation_id="c1",
        workflow_run_id="r1",
        workflow_id="w1",
        created_at=1700000000,
        mode="advanced-chat",
        end_user_id="eu1",
        user="alice",
    )


def test_an_engine_event_round_trips_through_the_codec() -> None:
    chunk = ev.TextChunk(text="héllo", from_node_id="llm", from_variable_selector=("llm", "text"))
    decoded = STREAM_CODEC.loads(STREAM_CODEC.dumps(chunk))
    assert decoded == chunk and type(decoded) is ev.TextChunk


def test_a_turn_end_with_files_usage_and_an_error_round_trips() -> None:
    file = File(type="image", transfer_method="remote_url", url="https://x/y.png")
    run = ev.RunFinished(
        run_id="r1",
        status="failed",
        outputs={"files": [file]},
        error="boom",
        started_at=1.0,
        finished_at=2.5,
        total_tokens=7,
        total_steps=3,
    )
    end = TurnEnded(
        run=run,
        answer="partial",
        usage=Usage(prompt_tokens=3, completion_tokens=4),
        error=TurnError("internal_server_error", 500, "boom"),
    )
    decoded = STREAM_CODEC.loads(STREAM_CODEC.dumps(end))
    assert decoded == end
    assert isinstance(decoded.run.outputs["files"][0], File)


def test_turn_meta_is_json_and_reads_back() -> None:
    meta = turn_meta("app-1", _info())
    assert json.loads(json.dumps(meta)) == meta
    assert meta["workflow_run_id"] == "r1"
    assert turn_from_meta(meta) == ("app-1", _info())


def test_a_stream_that_is_not_a_turns_has_no_turn() -> None:
    assert turn_from_meta({}) is None
    assert turn_from_meta({"app_id": "a"}) is None
    assert turn_from_meta({"app_id": "a", "info": {"unknown": 1}}) is None
