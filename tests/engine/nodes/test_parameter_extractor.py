"""parameter-extractor: function-call and prompt modes, validation and type coercion."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from pydantic import ValidationError

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import parameter_extractor, spec_for
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import LLMChunk, LLMRequest
from chatflow.providers.fake import FakeLLM, FakeRegistry


class RecordingLLM(FakeLLM):
    def __init__(
        self, tokens: Sequence[str], tool_call: tuple[str, Mapping[str, Any]] | None = None
    ) -> None:
        super().__init__(tokens, tool_call=tool_call)
        self.requests: list[LLMRequest] = []

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        async for chunk in super().stream(request):
            yield chunk


PARAMETERS = [
    {"name": "city", "type": "string", "description": "city", "required": True},
    {"name": "days", "type": "number", "description": "days", "required": False},
    {"name": "budget_ok", "type": "bool", "description": "fits budget", "required": False},
    {
        "name": "mode",
        "type": "select",
        "options": ["train", "plane"],
        "description": "",
        "required": False,
    },
    {"name": "stops", "type": "array[string]", "description": "stops", "required": False},
]


async def _extract(llm: RecordingLLM, mode: str, **data: Any) -> NodeResult:
    pool = VariablePool(system={"query": "3 days in Paris by train, stopping in Lyon"})
    ctx = NodeContext("pe", pool, EngineServices(models=FakeRegistry(llm), limits=EngineLimits()))
    config = parameter_extractor.Config.model_validate(
        {
            "type": "parameter-extractor",
            "title": "extract",
            "query": ["sys", "query"],
            "model": {
                "provider": "openai",
                "name": "gpt",
                "mode": "chat",
                "completion_params": {"temperature": 0.7},
            },
            "parameters": PARAMETERS,
            "reasoning_mode": mode,
            "instruction": "Be exact",
            "variables": [],
            "vision": {"enabled": False},
            **data,
        }
    )
    events = [e async for e in parameter_extractor.run(ctx, config)]
    assert len(events) == 1 and isinstance(events[0], NodeResult)
    return events[0]


async def test_function_call_mode_uses_tool_and_coerces() -> None:
    args = {"city": "Paris", "days": "3", "budget_ok": 1, "mode": "train", "stops": ["Lyon", 7]}
    llm = RecordingLLM([], tool_call=("extract_parameters", args))
    result = await _extract(llm, "function_call")
    (tool,) = llm.requests[0].tools
    assert tool.name == "extract_parameters"
    assert tool.parameters["required"] == ["city"]
    assert tool.parameters["properties"]["mode"] == {
        "description": "",
        "type": "string",
        "enum": ["train", "plane"],
    }
    assert tool.parameters["properties"]["stops"]["items"] == {"type": "string"}
    outputs = result.outputs
    assert (
        outputs["city"],
        outputs["days"],
        outputs["budget_ok"],
        outputs["mode"],
        outputs["stops"],
    ) == ("Paris", 3, True, "train", ["Lyon"])
    # "3" is not a number and 1 is not a boolean: Dify reports it but still coerces.
    assert outputs["__is_success"] == 0 and "days" in outputs["__reason"]
    assert outputs["__usage"]["completion_tokens"] == 1
    assert llm.requests[0].messages[-1].content.startswith("extract structured information")


async def test_prompt_mode_parses_json_from_text() -> None:
    reply = (
        'Sure! {"city": "Paris", "days": 3, "budget_ok": true, "mode": "train", '
        '"stops": ["Lyon"]} hope that helps'
    )
    llm = RecordingLLM([reply])
    result = await _extract(llm, "prompt")
    assert llm.requests[0].tools == ()
    assert [m.role for m in llm.requests[0].messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert "Be exact" in llm.requests[0].messages[0].content
    assert result.outputs["__is_success"] == 1 and result.outputs["__reason"] is None
    assert result.outputs["days"] == 3 and result.outputs["stops"] == ["Lyon"]


async def test_unparseable_reply_defaults_everything() -> None:
    result = await _extract(RecordingLLM(["no json here"]), "prompt")
    assert result.outputs["__is_success"] == 0
    assert result.outputs["city"] == "" and result.outputs["days"] == 0
    assert result.outputs["budget_ok"] is False and result.outputs["stops"] == []


async def test_select_option_and_required_checks() -> None:
    reply = json.dumps({"city": "Paris", "days": 3, "budget_ok": True, "mode": "bus", "stops": []})
    result = await _extract(RecordingLLM([reply]), "prompt")
    assert result.outputs["__reason"] == "Invalid `select` value for parameter mode"
    reply = json.dumps({"days": 3, "budget_ok": True, "mode": "bus", "stops": [], "x": 1})
    result = await _extract(RecordingLLM([reply]), "prompt")
    assert result.outputs["__reason"] == "Parameter city is required"


async def test_completion_mode_single_prompt() -> None:
    llm = RecordingLLM(['```JSON\n{"city": "Paris"}'])
    result = await _extract(
        llm,
        "function_call",
        model={"provider": "openai", "name": "gpt", "mode": "completion", "completion_params": {}},
    )
    (message,) = llm.requests[0].messages
    assert '"city": {"description": "city", "type": "string"}' in message.content
    assert "γ" not in message.content and llm.requests[0].tools == ()
    assert result.outputs["city"] == "Paris"


def test_config_validation_and_registration() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        parameter_extractor.Parameter.model_validate(
            {"name": "__reason", "type": "string", "required": False}
        )
    config = parameter_extractor.Parameter.model_validate(
        {"name": "ok", "type": "array[bool]", "required": False}
    )
    assert config.type == "array[boolean]"
    assert spec_for("parameter-extractor") is not None
