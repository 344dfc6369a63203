"""Structured output for the LLM node (Dify's prompt-based JSON schema mode).

Our model protocol carries no JSON schema, so we do what Dify does for models without
native schema support: put `STRUCTURED_OUTPUT_PROMPT` with the schema in front of the
system prompt (replacing any other system messages), ask for JSON, and parse the text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chatflow.providers.base import ChatMessage

STRUCTURED_OUTPUT_PROMPT = """You’re a helpful AI assistant. You could answer questions and output in JSON format.
constraints:
    - You must output in JSON format.
    - Do not output boolean value, use string type instead.
    - Do not output integer or float value, use number type instead.
eg:
    Here is the JSON schema:
    {"additionalProperties": false, "properties": {"age": {"type": "number"}, "name": {"type": "string"}}, "required": ["name", "age"], "type": "object"}

    Here is the user's question:
    My name is John Doe and I am 30 years old.

    output:
    {"name": "John Doe", "age": 30}
Here is the JSON schema:
{{schema}}
"""  # noqa: E501 (Dify's prompt, verbatim)


class StructuredOutputError(ValueError):
    pass


def schema_of(structured_output: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON schema the DSL declares under `structured_output.schema`."""
    if not structured_output:
        raise StructuredOutputError("Please provide a valid structured output schema")
    schema = structured_output.get("schema", {})
    if not isinstance(schema, dict):
        raise StructuredOutputError("structured_output_schema must be a JSON object")
    return schema


def with_schema_prompt(
    messages: Sequence[ChatMessage], schema: Mapping[str, Any]
) -> list[ChatMessage]:
    prompt = STRUCTURED_OUTPUT_PROMPT.replace("{{schema}}", json.dumps(schema, ensure_ascii=False))
    system = next((m for m in messages if m.role == "system"), None)
    if system is not None:
        prompt = prompt + "\n\n" + system.content
    return [ChatMessage("system", prompt), *(m for m in messages if m.role != "system")]


def parse(text: str) -> dict[str, Any]:
    """Parse the model's JSON; tolerate code fences, a <think> prefix or trailing prose."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        parsed = _lenient(text)
    if isinstance(parsed, list):
        parsed = next((item for item in parsed if isinstance(item, dict)), {})
    if not isinstance(parsed, dict):
        raise StructuredOutputError(f"Failed to parse structured output: {text}")
    return parsed


def _lenient(text: str) -> Any:
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "{[":
            try:
                return decoder.raw_decode(text, start)[0]
            except json.JSONDecodeError:
                continue
    raise StructuredOutputError(f"Failed to parse structured output: {text}")
