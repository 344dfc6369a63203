"""The parameter-extractor node: asks the model to fill typed parameters from text.

Matches Dify's `ParameterExtractorNode`. `reasoning_mode: function_call` offers the
model one `extract_parameters` tool whose JSON schema is built from `parameters`;
`prompt` (and completion models) asks for a JSON object in text. A reply without a
tool call is still searched for JSON. The result is validated (count, required names,
types, select options) — a failure sets `__is_success` to 0 and `__reason` instead of
failing the node — then coerced per declared type, missing values becoming Dify's
defaults ("" / 0 / false / []). Outputs: the parameters, `__is_success`, `__reason`,
`__usage`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatflow.engine.nodes import _extractor_prompts as prompts
from chatflow.engine.nodes._model_call import (
    complete,
    memory_text,
    query_text,
    serialize_prompts,
    vision_images,
    with_images,
)
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.nodes.llm.config import MemoryConfig, ModelConfig, VisionConfig
from chatflow.engine.template import render
from chatflow.errors import NodeError
from chatflow.providers.base import ChatMessage, ToolSpec

TYPE = "parameter-extractor"

ParameterType = Literal[
    "string", "number", "boolean", "array[string]", "array[number]", "array[object]",
    "array[boolean]",
]  # fmt: skip
# Old DSLs name booleans "bool" and enumerations "select" (a string with options).
_LEGACY_TYPES = {"bool": "boolean", "select": "string", "array[bool]": "array[boolean]"}
_RESERVED = frozenset(("__reason", "__is_success"))
_UNSET: Any = object()


class Parameter(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    type: ParameterType
    options: list[str] | None = None
    description: str = ""
    required: bool = False

    @field_validator("type", mode="before")
    @classmethod
    def _legacy_type(cls, value: Any) -> Any:
        return _LEGACY_TYPES.get(value, value) if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not value:
            raise ValueError("Parameter name is required")
        if value in _RESERVED:
            raise ValueError("Invalid parameter name, __reason and __is_success are reserved")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"description": self.description}
        if self.type.startswith("array["):
            schema["type"] = "array"
            schema["items"] = {"type": self.type[6:-1]}
        else:
            schema["type"] = self.type
        if self.options:
            schema["enum"] = self.options
        return schema


class Config(NodeConfig):
    model: ModelConfig
    query: list[str] = Field(default_factory=list)
    parameters: list[Parameter] = Field(default_factory=list)
    instruction: str | None = None
    memory: MemoryConfig | None = None
    reasoning_mode: Literal["function_call", "prompt"] = "function_call"
    vision: VisionConfig = Field(default_factory=VisionConfig)

    @field_validator("reasoning_mode", mode="before")
    @classmethod
    def _default_mode(cls, value: Any) -> Any:
        return value or "function_call"

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.parameters},
            "required": [p.name for p in self.parameters if p.required],
        }


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    query = query_text(ctx.pool, config.query)
    instruction = render(config.instruction or "", ctx.pool)
    histories = memory_text(ctx, config.memory)
    schema = config.json_schema()
    tools: list[ToolSpec] = []
    if config.reasoning_mode == "function_call" and config.model.mode == "chat":
        messages = _function_call_messages(query, instruction, histories, schema)
        tools.append(
            ToolSpec(
                prompts.FUNCTION_CALLING_EXTRACTOR_NAME,
                "Extract parameters from the natural language text",
                schema,
            )
        )
    elif config.model.mode == "completion":
        text = prompts.COMPLETION_GENERATE_JSON_PROMPT.format(
            histories=histories, text=query, instruction=instruction
        )
        for marker in ("{γγγ", "}γγγ"):
            text = text.replace(marker, "")
        messages = [ChatMessage("user", text.replace("{ structure }", json.dumps(schema)))]
    else:
        messages = _prompt_messages(query, instruction, histories, schema)
    messages = with_images(messages, await vision_images(ctx, config.vision))

    try:
        reply = await complete(
            ctx, config.model, messages, tuple(tools), tool_choice="required" if tools else "auto"
        )
    except NodeError:
        raise
    except Exception as exc:
        raise NodeError(f"Failed to invoke model: {exc}") from exc

    error: str | None = None
    if reply.tool_calls:
        result = find_json_object(reply.tool_calls[0].arguments) or {}
    else:
        result = find_json_object(reply.text) or {}
        if not result:
            result = {p.name: _default(p.type) for p in config.parameters if "[" not in p.type}
            error = (
                "Failed to extract result from function call or text response, using empty result."
            )
    error = validate(config.parameters, result) or error
    usage = reply.usage.to_dict()
    outputs = {
        "__is_success": 0 if error else 1,
        "__reason": error,
        "__usage": usage,
        **coerce(config.parameters, result),
    }
    tool_call = reply.tool_calls[0] if reply.tool_calls else None
    yield NodeResult(
        outputs=outputs,
        inputs={
            "query": query,
            "parameters": [p.model_dump() for p in config.parameters],
            "instruction": config.instruction,
            "model_provider": config.model.provider,
            "model_name": config.model.name,
        },
        process_data={
            "model_mode": config.model.mode,
            "prompts": serialize_prompts(messages),
            "usage": usage,
            "function": {"name": tools[0].name, "parameters": schema} if tools else {},
            "tool_call": (
                {"id": tool_call.id, "name": tool_call.name, "arguments": tool_call.arguments}
                if tool_call
                else None
            ),
            "llm_text": reply.text,
            "model_provider": config.model.provider,
            "model_name": config.model.name,
        },
        usage=reply.usage,
    )


def _function_call_messages(
    query: str, instruction: str, histories: str, schema: dict[str, Any]
) -> list[ChatMessage]:
    """Dify's messages, with the worked examples before the real request. The example
    tool calls are written into the assistant text: the chat protocol here has no
    assistant tool-call field, and a `tool` message without one is rejected by APIs."""
    system = prompts.FUNCTION_CALLING_EXTRACTOR_SYSTEM_PROMPT.format(
        histories=histories, instruction=instruction
    )
    messages = [ChatMessage("system", system)]
    for example in prompts.FUNCTION_CALLING_EXTRACTOR_EXAMPLE:
        call = example["assistant"]["function_call"]
        messages.append(ChatMessage("user", example["user"]["query"]))
        messages.append(
            ChatMessage(
                "assistant",
                f"{example['assistant']['text']}\n"
                f"{json.dumps({'name': call['name'], 'arguments': call['parameters']})}\n"
                "I have extracted the parameters, let's move on.",
            )
        )
    user = prompts.FUNCTION_CALLING_EXTRACTOR_USER_TEMPLATE.format(
        content=query, structure=json.dumps(schema)
    )
    messages.append(ChatMessage("user", user))
    return messages


def _prompt_messages(
    query: str, instruction: str, histories: str, schema: dict[str, Any]
) -> list[ChatMessage]:
    system = prompts.CHAT_GENERATE_JSON_PROMPT.format(histories=histories, instruction=instruction)
    messages = [ChatMessage("system", system)]
    template = prompts.CHAT_GENERATE_JSON_USER_MESSAGE_TEMPLATE
    for example in prompts.CHAT_EXAMPLE:
        structure = json.dumps(example["user"]["json"])
        messages.append(
            ChatMessage("user", template.format(structure=structure, text=example["user"]["query"]))
        )
        messages.append(ChatMessage("assistant", json.dumps(example["assistant"]["json"])))
    messages.append(ChatMessage("user", template.format(structure=json.dumps(schema), text=query)))
    return messages


def _balanced(text: str) -> str | None:
    """Dify's `extract_json`: the text up to where the first bracket closes."""
    stack: list[str] = []
    for index, char in enumerate(text):
        if char in "{[":
            stack.append(char)
        elif char in "}]":
            if not stack or (char == "}") != (stack[-1] == "{"):
                return text[:index]
            stack.pop()
            if not stack:
                return text[: index + 1]
    return None


def find_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in the text, scanning from each `{`/`[` like Dify."""
    for index, char in enumerate(text):
        if char not in "{[":
            continue
        candidate = _balanced(text[index:])
        if not candidate:
            continue
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _valid(kind: str, value: Any) -> bool:
    scalar: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "number": _is_number,
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
    }
    if kind.startswith("array["):
        check = scalar[kind[6:-1]]
        return isinstance(value, list) and all(check(item) for item in value)
    return scalar[kind](value)


def validate(parameters: list[Parameter], result: dict[str, Any]) -> str | None:
    """Dify's `_validate_result`; returns the first problem as `__reason`."""
    if len(parameters) != len(result):
        return "Invalid number of parameters"
    for parameter in parameters:
        if parameter.required and parameter.name not in result:
            return f"Parameter {parameter.name} is required"
        value = result.get(parameter.name)
        if not _valid(parameter.type, value):
            return (
                f"Invalid value for parameter {parameter.name}, expected segment type: "
                f"{parameter.type}, python_type: {type(value)}, value: {value}"
            )
        if parameter.type == "string" and parameter.options and value not in parameter.options:
            return f"Invalid `select` value for parameter {parameter.name}"
    return None


def coerce(parameters: list[Parameter], result: dict[str, Any]) -> dict[str, Any]:
    """Dify's `_transform_result`: keep values of the declared type (numbers may come as
    text, booleans as 0/1), drop array items of the wrong type, default the rest."""
    coerced: dict[str, Any] = {}
    for parameter in parameters:
        value = _coerce(parameter.type, result.get(parameter.name, _UNSET))
        coerced[parameter.name] = _default(parameter.type) if value is _UNSET else value
    return coerced


def _coerce(kind: str, value: Any) -> Any:
    if value is _UNSET:
        return _UNSET
    if kind.startswith("array["):
        if not isinstance(value, list):
            return _UNSET
        element = kind[6:-1]
        items = [_coerce_item(element, item) for item in value]
        return [item for item in items if item is not _UNSET]
    if kind == "number":
        return _number(value)
    if kind == "boolean":
        return bool(value) if isinstance(value, bool | int) else _UNSET
    return value if isinstance(value, str) else _UNSET


def _coerce_item(element: str, item: Any) -> Any:
    if element == "number":
        return _number(item)
    if element == "boolean":
        return item if isinstance(item, bool) else _UNSET
    if element == "object":
        return item if isinstance(item, dict) else _UNSET
    return item if isinstance(item, str) else _UNSET


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return _UNSET
    return _UNSET


def _default(kind: str) -> Any:
    if kind.startswith("array["):
        return []
    return {"string": "", "number": 0, "boolean": False}[kind]
