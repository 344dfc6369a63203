"""Every stream event type in the spec parses into its own typed model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import chatflow_client as cf
from chatflow_client import EVENT_TYPES, parse_event

SPEC = json.loads((Path(__file__).parent / "fixtures/stream_event_schemas.json").read_text())
SCHEMAS: dict[str, Any] = SPEC["schemas"]
MAPPING: dict[str, str] = SCHEMAS["ChunkChatEvent"]["discriminator"]["mapping"]


def _sample(schema: dict[str, Any], name: str = "x") -> Any:
    """An example value for a schema fragment (refs resolved, allOf merged)."""
    if "$ref" in schema:
        return _sample(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]], name)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_sample(part, name))
        return merged
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: _sample(v, k) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_sample(schema.get("items", {}), name)]
    if kind == "integer":
        return 7
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if "enum" in schema:
        return schema["enum"][0]
    return f"{name}-value"


def frame(event: str) -> dict[str, Any]:
    payload = _sample(SCHEMAS[MAPPING[event].rsplit("/", 1)[1]])
    payload["event"] = event
    return payload


def test_the_spec_has_26_event_types_and_all_are_modelled() -> None:
    assert len(MAPPING) == 26
    assert set(MAPPING) == set(EVENT_TYPES)


@pytest.mark.parametrize("event", sorted(MAPPING))
def test_each_spec_frame_parses_to_its_model_with_every_field(event: str) -> None:
    payload = frame(event)
    parsed = parse_event(payload)
    assert type(parsed) is EVENT_TYPES[event]
    assert parsed.event == event
    dumped = parsed.model_dump(exclude_unset=True)
    assert dumped == payload  # nothing dropped, nothing renamed


@pytest.mark.parametrize("event", sorted(MAPPING))
def test_each_spec_frame_survives_the_sse_wire(event: str) -> None:
    wire = f"data: {json.dumps(frame(event))}\n\n".splitlines(keepends=True)
    (sse,) = list(cf.iter_sse(wire))
    assert type(parse_event(json.loads(sse.data))) is EVENT_TYPES[event]


def test_unknown_event_is_kept_not_rejected() -> None:
    parsed = parse_event({"event": "from_the_future", "task_id": "t", "novel": [1, 2]})
    assert isinstance(parsed, cf.UnknownEvent)
    assert parsed.event == "from_the_future"
    assert parsed.model_extra == {"novel": [1, 2]}


def test_extra_fields_on_known_events_are_allowed() -> None:
    parsed = parse_event({"event": "message", "answer": "hi", "from_variable_selector": ["a"]})
    assert isinstance(parsed, cf.MessageEvent)
    assert parsed.answer == "hi"
    assert parsed.model_extra == {"from_variable_selector": ["a"]}


def test_usage_in_message_end_is_typed() -> None:
    payload = frame("message_end")
    parsed = parse_event(payload)
    assert isinstance(parsed, cf.MessageEndEvent)
    assert parsed.metadata.usage is not None
    assert parsed.metadata.usage.total_tokens == 7
    assert parsed.metadata.retriever_resources[0].score == 1.5
