"""What a turn's event stream carries between processes: its items' codec and its meta.

With Redis, a turn's stream is written by the worker that runs it and read by whichever
worker serves the client, so its items (`StreamItem`: the engine's events and the closing
`TurnEnded`) travel as bytes (`STREAM_CODEC`), and the stream's meta says which turn it
is (`turn_meta`/`turn_from_meta`): enough for another worker to check the caller and
frame the events exactly as the first response did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from chatflow.engine import events as ev
from chatflow.engine.files import File
from chatflow.providers.base import Usage
from chatflow.runtime.codec import DataclassCodec
from chatflow.services.turn import TurnEnded, TurnError, TurnInfo


def _event_types() -> list[type[Any]]:
    # Every dataclass of the engine's vocabulary, so a new event type travels unchanged.
    return [
        obj
        for obj in vars(ev).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == ev.__name__
    ]


STREAM_CODEC = DataclassCodec([*_event_types(), Usage, File, TurnEnded, TurnError])


def turn_meta(app_id: str, info: TurnInfo) -> dict[str, Any]:
    """The stream meta of a turn (JSON-compatible)."""
    return {
        "app_id": app_id,
        "workflow_run_id": info.workflow_run_id,
        # Shallow: every field is a str or an int (`asdict` would deep-copy them).
        "info": {name: getattr(info, name) for name in _INFO_FIELDS},
    }


_INFO_FIELDS = tuple(f.name for f in dataclasses.fields(TurnInfo))


def turn_from_meta(meta: Mapping[str, Any]) -> tuple[str, TurnInfo] | None:
    """`(app_id, info)` back from `turn_meta`; None for a stream that is not a turn's."""
    try:
        return str(meta["app_id"]), TurnInfo(**meta["info"])
    except (KeyError, TypeError):
        return None
