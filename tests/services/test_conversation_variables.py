"""`ConversationVariableService` over in-memory SQLite: every declared type checked the
way Dify's `value_type` check does (a boolean is not a number, an array's items have
the item type), the error naming both types, the value stored as given, and the route's
mode rule."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.errors import InvalidRequest
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.chat import ChatRequest
from chatflow.services.conversation_variables import json_type

from .conftest import DSL, ECHO, load

TYPED = ECHO.replace(
    "  - {id: v-count, name: count, value_type: number, value: 0, description: turns}\n",
    """\
  - {id: v-count, name: count, value_type: number, value: 0, description: turns}
  - {id: v-name, name: name, value_type: string, value: '', description: ''}
  - {id: v-flag, name: flag, value_type: boolean, value: false, description: ''}
  - {id: v-obj, name: obj, value_type: object, value: {}, description: ''}
  - {id: v-nums, name: nums, value_type: 'array[number]', value: [], description: ''}
  - {id: v-strs, name: strs, value_type: 'array[string]', value: [], description: ''}
  - {id: v-objs, name: objs, value_type: 'array[object]', value: [], description: ''}
""",
)


@pytest.fixture
async def typed(services: Services) -> LoadedApp:
    return await load(services, TYPED)


async def _conversation(services: Services, app: LoadedApp) -> str:
    handle = await services.chat.start(app, ChatRequest(query="q", user="ann", streaming=False))
    await handle.wait()
    return handle.info.conversation_id


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("v-count", 2.5),
        ("v-count", 0),
        ("v-name", ""),
        ("v-flag", True),
        ("v-obj", {"a": [1, {"b": None}]}),
        ("v-nums", [1, 2.5, -3]),
        ("v-nums", []),
        ("v-strs", ["a", ""]),
        ("v-objs", [{}, {"k": 1}]),
    ],
)
async def test_values_of_the_declared_type_are_stored_as_given(
    services: Services, typed: LoadedApp, variable: str, value: Any
) -> None:
    conversation_id = await _conversation(services, typed)
    updated = await services.conversation_variables.update(
        typed, "ann", conversation_id, variable, value
    )
    assert updated.value == value


@pytest.mark.parametrize(
    ("variable", "value", "expected", "got"),
    [
        ("v-count", True, "number", "boolean"),  # bool is an int in Python, not in JSON
        ("v-count", "3", "number", "string"),
        ("v-count", None, "number", "null"),
        ("v-name", 3, "string", "integer"),
        ("v-flag", 1, "boolean", "integer"),
        ("v-obj", [1], "object", "array"),
        ("v-nums", [1, True], "array[number]", "array"),
        ("v-nums", [1, "2"], "array[number]", "array"),
        ("v-nums", {"0": 1}, "array[number]", "object"),
        ("v-strs", ["a", None], "array[string]", "array"),
        ("v-objs", [{}, []], "array[object]", "array"),
    ],
)
async def test_a_value_of_another_type_is_difys_400(
    services: Services, typed: LoadedApp, variable: str, value: Any, expected: str, got: str
) -> None:
    conversation_id = await _conversation(services, typed)
    variables = services.conversation_variables
    with pytest.raises(InvalidRequest) as caught:
        await variables.update(typed, "ann", conversation_id, variable, value)
    assert caught.value.code == "bad_request" and caught.value.status == 400
    assert caught.value.message == f"Value type mismatch: expected {expected}, got {got}."
    # Nothing was written: the next turn still counts from the stored value.
    row = await variables.update(typed, "ann", conversation_id, "v-count", 5)
    assert row.value == 5


async def test_only_chat_apps_have_conversation_variables(services: Services) -> None:
    workflow = await load(services, (DSL / "workflow.yml").read_text())
    with pytest.raises(InvalidRequest) as caught:
        await services.conversation_variables.update(workflow, "ann", "c", "v", 1)
    assert caught.value.code == "not_chat_app"


def test_json_type_names() -> None:
    assert [json_type(v) for v in (None, False, 0, 0.5, "", [], {})] == [
        "null", "boolean", "integer", "number", "string", "array", "object",
    ]  # fmt: skip
