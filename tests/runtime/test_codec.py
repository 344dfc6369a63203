"""The stream-item codec: registered dataclasses and Python values round-trip exactly;
anything else becomes what the wire would print for it."""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from chatflow.api._json import dumps
from chatflow.engine import events as ev
from chatflow.engine.files import File
from chatflow.runtime.codec import DataclassCodec
from chatflow.services.stream_items import STREAM_CODEC


@dataclass(frozen=True)
class Unregistered:
    a: int
    b: tuple[int, ...]


class Color(enum.Enum):
    RED = "red"


class Opaque:
    def __str__(self) -> str:
        return "opaque!"


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**80),
        1.5,
        "text\u2028",
        [1, "a", None],
        (1, (2, "x")),
        {"a": {"b": [1, 2]}},
        {1: "int key", (1, 2): "tuple key"},
        {"\x00t": "a payload using the tag key"},
        {1, 2, 3},
        frozenset({"a"}),
        Decimal("0.00012"),
        b"\x00\xffbytes",
        dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        dt.date(2024, 1, 2),
        File(type="image", transfer_method="local_file", id="f", filename="a.png", size=3),
    ],
)
def test_values_round_trip_exactly(value: Any) -> None:
    decoded = STREAM_CODEC.loads(STREAM_CODEC.dumps(value))
    assert decoded == value and type(decoded) is type(value)


def test_non_finite_floats_survive() -> None:
    nan, inf = STREAM_CODEC.loads(STREAM_CODEC.dumps([math.nan, -math.inf]))
    assert math.isnan(nan) and inf == -math.inf


def test_every_engine_event_type_is_registered() -> None:
    event = ev.TextChunk("hi", "llm", ("llm", "text"))
    assert STREAM_CODEC.loads(STREAM_CODEC.dumps(event)) == event
    paused = ev.RunPaused(
        reasons=[{"TYPE": "human_input_required"}],
        outputs={},
        forms=(ev.HumanInputRequired("e", "n", "T", "f", "c", [], [], None),),
    )
    assert STREAM_CODEC.loads(STREAM_CODEC.dumps(paused)) == paused


def test_unknown_types_become_what_the_wire_prints() -> None:
    value = {"dc": Unregistered(1, (2,)), "enum": Color.RED, "other": Opaque()}
    decoded = STREAM_CODEC.loads(STREAM_CODEC.dumps(value))
    assert dumps(decoded) == dumps(value)
    assert decoded["other"] == "opaque!"


def test_only_dataclasses_can_be_registered() -> None:
    with pytest.raises(TypeError):
        DataclassCodec([int])
