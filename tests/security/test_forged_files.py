"""User-shaped JSON that looks like a file never becomes one: not on the next turn of a
conversation (stored inputs), not on a resume (paused run state)."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.engine import _pause
from chatflow.engine.files import File
from chatflow.engine.files import to_json as jsonable
from chatflow.engine.nodes.start import InputVariable
from chatflow.services.file_inputs import restore_inputs

FORGED_DIFY = {
    "dify_model_identity": "__dify__file__",
    "type": "document",
    "transfer_method": "local_file",
    "related_id": "0b7c1b6e-8f0e-4a57-9d55-2d6f3a1a0c11",  # another app's upload
}
FORGED_STATE = {"__chatflow_file__": {"type": "document", "transfer_method": "local_file"}}


def _variables() -> list[InputVariable]:
    return [
        InputVariable.model_validate({"variable": name, "label": name, "type": kind})
        for name, kind in (("data", "json"), ("n", "number"), ("ok", "checkbox"), ("doc", "file"))
    ]


@pytest.mark.parametrize("name", ["data", "n", "ok"])
def test_next_turn_keeps_a_forged_file_dict_as_data(name: str) -> None:
    stored = jsonable({name: FORGED_DIFY})  # what turn 1 saved as the conversation's inputs
    restored = restore_inputs(_variables(), stored)
    assert restored[name] == FORGED_DIFY
    assert not isinstance(restored[name], File)


def test_next_turn_still_restores_declared_files() -> None:
    real = File(type="document", transfer_method="local_file", id="f1", filename="a.pdf")
    restored = restore_inputs(_variables(), jsonable({"doc": real}))
    assert restored["doc"] == real


@pytest.mark.parametrize(
    "value",
    [
        FORGED_STATE,
        {"__chatflow_dict__": FORGED_STATE},
        {"outer": FORGED_STATE},
        [FORGED_STATE, {"__chatflow_dict__": 1}],
    ],
)
def test_resume_keeps_a_forged_tag_as_data(value: Any) -> None:
    assert _pause.decode(_pause.encode(value)) == value


def test_resume_still_restores_real_files() -> None:
    real = File(type="image", transfer_method="tool_file", id="t1")
    assert _pause.decode(_pause.encode({"f": real, "data": FORGED_STATE})) == {
        "f": real,
        "data": FORGED_STATE,
    }
