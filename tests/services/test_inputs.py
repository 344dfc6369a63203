"""`wire_inputs`: stored inputs as the API returns them, `{str: str}`."""

from __future__ import annotations

from chatflow.services.inputs import wire_inputs


def test_every_value_becomes_a_string() -> None:
    stored = {
        "name": "Ada",
        "none": None,
        "yes": True,
        "no": False,
        "count": 3,
        "ratio": 0.5,
        "tags": ["a", "ü"],
        "obj": {"k": 1},
    }
    assert wire_inputs(stored) == {
        "name": "Ada",
        "none": "",
        # bool before int: True is an int in Python, but "true" on the wire.
        "yes": "true",
        "no": "false",
        "count": "3",
        "ratio": "0.5",
        "tags": '["a", "ü"]',  # JSON, non-ASCII kept as is
        "obj": '{"k": 1}',
    }


def test_no_inputs_is_an_empty_object() -> None:
    assert wire_inputs(None) == {}
    assert wire_inputs({}) == {}


def test_values_json_cannot_encode_fall_back_to_their_text() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    assert wire_inputs({"x": [Odd()]}) == {"x": '["odd"]'}
