"""start: Dify's input-form rules and the sys.* outputs."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.engine.nodes.start import InputVariable, coerce_inputs
from chatflow.errors import InvalidRequest


def form(**fields: Any) -> list[InputVariable]:
    return [InputVariable(variable=name, **spec) for name, spec in fields.items()]


def test_types_and_defaults() -> None:
    variables = form(
        n={"type": "number"},
        f={"type": "number"},
        ok={"type": "checkbox"},
        data={"type": "json_object"},
        name={"type": "text-input", "default": "anon"},
        opt={"type": "paragraph"},
    )
    values = coerce_inputs(
        variables, {"n": "3", "f": "2.5", "ok": "true", "data": '{"a": 1}', "name": None}
    )
    assert values == {"n": 3, "f": 2.5, "ok": True, "data": {"a": 1}, "name": "anon", "opt": None}


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ({"type": "text-input", "required": True}, None, "x is required in input form"),
        ({"type": "text-input"}, 5, "x in input form must be a string"),
        (
            {"type": "select", "options": ["a", "b"]},
            "c",
            "x in input form must be one of the following: ['a', 'b']",
        ),
        (
            {"type": "paragraph", "max_length": 3},
            "abcd",
            "x in input form must be less than 3 characters",
        ),
        ({"type": "number"}, "three", "x in input form must be a valid number"),
    ],
)
def test_dify_validation_messages(spec: dict[str, Any], value: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        coerce_inputs(form(x=spec), {"x": value})
    assert caught.value.message == message
    assert caught.value.status == 400
