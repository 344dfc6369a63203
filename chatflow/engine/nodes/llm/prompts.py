"""Prompt assembly for the LLM node, following Dify's `llm_utils.fetch_prompt_messages`.

Chat mode: the template messages (basic text with `{{#node.var#}}` and `{{#context#}}`,
or Jinja2), then the conversation memory as user/assistant pairs, then the memory query
(`memory.query_prompt_template`, default `sys.query`) as the last user message. Completion
mode: one user message; memory becomes `Human: ...` text put at `#histories#` (or in
front). Vision files join the last user message. Files referenced in a basic template
become a separate message of the same role. Images travel as image parts and documents
as extracted text (`attachments.py`). Empty messages are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chatflow.engine.conditions import template_text
from chatflow.engine.files import File, to_json
from chatflow.engine.nodes._jinja import render
from chatflow.engine.nodes.base import EngineServices, Turn
from chatflow.engine.nodes.llm.attachments import image_part, with_documents
from chatflow.engine.nodes.llm.config import ChatPromptMessage, Config, Jinja2Variable
from chatflow.engine.template import parse, to_text
from chatflow.engine.variables import MISSING, VariablePool
from chatflow.providers.base import ChatMessage, Role

CONTEXT_PLACEHOLDER = "{{#context#}}"
MEMORY_MESSAGE_LIMIT = 500  # Dify's cap on remembered messages
MAX_RESOLVED_PARAM_LENGTH = 1024
Detail = Literal["low", "high", "auto"]


class PromptError(ValueError):
    """The prompt cannot be built (missing variable, bad context, no prompt at all)."""


@dataclass(slots=True)
class _Message:
    role: Role
    text: str = ""
    files: list[File] = field(default_factory=list)
    turn: int | None = None  # memory: which remembered turn this message belongs to


@dataclass(slots=True)
class Prompt:
    messages: list[ChatMessage]
    inputs: dict[str, Any]
    context: str | None = None
    retriever_resources: list[dict[str, Any]] = field(default_factory=list)
    # Index ranges of `messages` holding remembered turns, oldest first: what may be
    # dropped to fit the model's context.
    memory: list[range] = field(default_factory=list)


def effective_text(message: ChatPromptMessage) -> str:
    if message.edition_type == "jinja2" and message.jinja2_text:
        return message.jinja2_text
    return message.text


def _require(pool: VariablePool, selector: Sequence[str], name: str) -> Any:
    value = pool.get(selector)
    if value is MISSING:
        raise PromptError(f"Variable {name} not found")
    return value


def memory_query(config: Config, pool: VariablePool) -> str | None:
    """The text of the final user turn: the query template, else `sys.query`."""
    if config.memory is None:
        return None
    if config.memory.query_prompt_template:
        return config.memory.query_prompt_template
    value = pool.get(["sys", "query"])
    return None if value is MISSING else to_text(value)


def collect_inputs(config: Config, pool: VariablePool) -> dict[str, Any]:
    """Node inputs; like Dify, a prompt that references a missing variable fails the node."""
    inputs: dict[str, Any] = {}
    template = config.prompt_template
    texts = (
        [effective_text(m) for m in template]
        if isinstance(template, list)
        else [template.jinja2_text or template.text]
        if template.edition_type == "jinja2"
        else [template.text]
    )
    for text in texts:
        for selector in _selectors(text):
            value = _require(pool, selector, f"#{'.'.join(selector)}#")
            inputs[f"#{'.'.join(selector)}#"] = "" if value is None else value
    if config.memory is not None and config.memory.query_prompt_template:
        for selector in _selectors(config.memory.query_prompt_template):
            value = _require(pool, selector, f"#{'.'.join(selector)}#")
            if value is not None:
                inputs[f"#{'.'.join(selector)}#"] = value
    for variable in config.prompt_config.jinja2_variables:
        value = _require(pool, variable.value_selector, variable.variable)
        inputs[variable.variable] = _jinja_input_text(value)
    return inputs


def _selectors(text: str) -> list[tuple[str, ...]]:
    return [s.selector for s in parse(text) if not isinstance(s, str)]


def _context_item_text(item: Mapping[str, Any]) -> str:
    metadata = item.get("metadata")
    if isinstance(metadata, Mapping) and "_source" in metadata and "content" in item:
        return str(item["content"])
    return json.dumps(to_json(item, float), ensure_ascii=False)


def _jinja_input_text(value: Any) -> str:
    if isinstance(value, list):
        lines = [_context_item_text(v) if isinstance(v, dict) else str(v) for v in value]
        return "".join(line + "\n" for line in lines).strip()
    if isinstance(value, dict):
        return _context_item_text(value)
    return to_text(value)


def fetch_context(config: Config, pool: VariablePool) -> tuple[str | None, list[dict[str, Any]]]:
    """Dify's context: a string as is, or knowledge-retrieval results joined by lines."""
    if not config.context.enabled or not config.context.variable_selector:
        return None, []
    value = pool.get(config.context.variable_selector)
    if isinstance(value, str):
        return value, []
    if not isinstance(value, list):
        return None, []
    text = ""
    resources: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, str):
            text += item + "\n"
            continue
        if not isinstance(item, Mapping) or "content" not in item:
            raise PromptError(f"Invalid context structure: {item}")
        if item.get("summary"):
            text += f"{item['summary']}\n"
        text += f"{item['content']}\n"
        metadata = item.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get("_source") == "knowledge":
            resources.append(_retriever_resource(item, metadata))
    return text.strip(), resources


def _retriever_resource(item: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("position", "dataset_id", "dataset_name", "document_id", "document_name")
    resource = {key: metadata.get(key) for key in keys}
    resource.update(
        data_source_type=metadata.get("data_source_type"),
        segment_id=metadata.get("segment_id"),
        retriever_from=metadata.get("retriever_from"),
        score=metadata.get("score"),
        hit_count=metadata.get("segment_hit_count"),
        word_count=metadata.get("segment_word_count"),
        segment_position=metadata.get("segment_position"),
        index_node_hash=metadata.get("segment_index_node_hash"),
        content=item.get("content"),
        page=metadata.get("page"),
        doc_metadata=metadata.get("doc_metadata"),
        files=item.get("files"),
        summary=item.get("summary"),
    )
    return resource


def vision_files(config: Config, pool: VariablePool) -> list[File]:
    if not config.vision.enabled:
        return []
    value = pool.get(config.vision.configs.variable_selector)
    if isinstance(value, File):
        return [value]
    if value is MISSING or value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, File) for v in value):
        return list(value)
    raise PromptError(f"Invalid variable type: {type(value).__name__}")


def _render_basic(text: str, pool: VariablePool, context: str) -> tuple[str, list[File]]:
    """Fill `{{#...#}}` references; file values are collected instead of written."""
    parts: list[str] = []
    files: list[File] = []
    for segment in parse(text.replace(CONTEXT_PLACEHOLDER, context)):
        if isinstance(segment, str):
            parts.append(segment)
            continue
        value = pool.get(segment.selector)
        if isinstance(value, File):
            files.append(value)
        elif isinstance(value, list) and value and all(isinstance(v, File) for v in value):
            files.extend(value)
        elif value is MISSING:
            parts.append(".".join(segment.selector))
        else:
            parts.append(to_text(value))
    return "".join(parts), files


def _render_jinja(source: str, variables: Sequence[Jinja2Variable], pool: VariablePool) -> str:
    if not source:
        return ""
    values = {}
    for variable in variables:
        value = pool.get(variable.value_selector)
        values[variable.variable] = "" if value is MISSING else to_json(value, float)
    return render(source, values)


def _template_messages(
    messages: Sequence[ChatPromptMessage], config: Config, pool: VariablePool, context: str
) -> list[_Message]:
    out: list[_Message] = []
    for message in messages:
        if message.edition_type == "jinja2":
            text = _render_jinja(
                message.jinja2_text or "", config.prompt_config.jinja2_variables, pool
            )
            out.append(_Message(message.role, text))
            continue
        text, files = _render_basic(message.text, pool, context)
        if text:
            out.append(_Message(message.role, text))
        if files:
            out.append(_Message(message.role, files=files))
    return out


def memory_turns(config: Config, history: Sequence[Turn]) -> list[Turn]:
    """The last `window.size` answered turns (all, up to 500, when the window is off)."""
    if config.memory is None:
        return []
    window = config.memory.window
    limit = MEMORY_MESSAGE_LIMIT
    if window.enabled and window.size and window.size > 0:
        limit = min(window.size, MEMORY_MESSAGE_LIMIT)
    answered = [turn for turn in history if turn.answer]
    return answered[-limit:]


def _completion_message(
    config: Config, pool: VariablePool, context: str, history: Sequence[Turn], has_memory: bool
) -> _Message:
    template = config.prompt_template
    assert not isinstance(template, list)
    if template.edition_type == "jinja2":
        text = _render_jinja(
            template.jinja2_text or "", config.prompt_config.jinja2_variables, pool
        )
    else:
        text, _ = _render_basic(template.text, pool, context)
    memory_text = ""
    if config.memory is not None and has_memory:
        prefix = config.memory.role_prefix
        if prefix is None:
            raise PromptError("Memory role prefix is required for completion model.")
        lines: list[str] = []
        for turn in memory_turns(config, history):
            lines += [f"{prefix.user}: {turn.query}", f"{prefix.assistant}: {turn.answer}"]
        memory_text = "\n".join(lines)
    # Dify always does this, so a prompt without `#histories#` gains a leading newline.
    if "#histories#" in text:
        text = text.replace("#histories#", memory_text)
    else:
        text = memory_text + "\n" + text
    query = memory_query(config, pool)
    if query:
        text = text.replace("#sys.query#", query)
    return _Message("user", text)


async def build(
    config: Config,
    pool: VariablePool,
    services: EngineServices,
    history: Sequence[Turn],
    *,
    has_memory: bool,
) -> Prompt:
    """Assemble the messages sent to the model, plus the node inputs Dify records."""
    inputs = collect_inputs(config, pool)
    files = vision_files(config, pool)
    if files:
        inputs["#files#"] = [file.to_dict() for file in files]
    context, resources = fetch_context(config, pool)
    if context:
        inputs["#context#"] = context
    if isinstance(config.prompt_template, list):
        messages = _template_messages(config.prompt_template, config, pool, context or "")
        if has_memory:
            for index, turn in enumerate(memory_turns(config, history)):
                messages += [
                    _Message("user", turn.query, turn=index),
                    _Message("assistant", turn.answer, turn=index),
                ]
        query = memory_query(config, pool)
        if query:
            messages += _template_messages([ChatPromptMessage(text=query)], config, pool, "")
    else:
        messages = [_completion_message(config, pool, context or "", history, has_memory)]
    if files:
        if messages and messages[-1].role == "user":
            messages[-1].files[:0] = files
        else:
            messages.append(_Message("user", files=files))
    detail = config.vision.configs.detail
    chat: list[ChatMessage] = []
    turns: list[int | None] = []
    remembered = False
    for message in messages:
        converted = await _to_chat(message, services, detail)
        if converted.content or converted.images:
            chat.append(converted)
            turns.append(message.turn)
            remembered = remembered or message.turn is not None
    if not chat:
        raise PromptError(
            "No prompt found in the LLM configuration. "
            "Please ensure a prompt is properly configured before proceeding."
        )
    # Most prompts remember nothing: no ranges to compute.
    return Prompt(chat, inputs, context, resources, _turn_ranges(turns) if remembered else [])


def _turn_ranges(turns: Sequence[int | None]) -> list[range]:
    """Index ranges of consecutive messages of the same remembered turn, in order."""
    ranges: list[range] = []
    start = 0
    for index in range(1, len(turns) + 1):
        if index == len(turns) or turns[index] != turns[start]:
            if turns[start] is not None:
                ranges.append(range(start, index))
            start = index
    return ranges


async def _to_chat(message: _Message, services: EngineServices, detail: Detail) -> ChatMessage:
    """Images ride as parts; documents' text is appended (see `attachments`)."""
    images = [await image_part(file, services, detail) for file in message.files]
    text = await with_documents(message.text, message.files, services)
    return ChatMessage(message.role, text, tuple(i for i in images if i is not None))


def _truncated(data: str, keep: int = 10) -> str:
    return data if len(data) <= 2 * keep else f"{data[:keep]}...[TRUNCATED]...{data[-keep:]}"


def serialize(messages: Sequence[ChatMessage], mode: str) -> list[dict[str, Any]]:
    """`process_data.prompts` in Dify's saved shape (image data truncated)."""

    def files_of(message: ChatMessage) -> list[dict[str, Any]]:
        return [
            {"type": "image", "data": _truncated(image.url), "detail": image.detail}
            for image in message.images
        ]

    if mode == "chat":
        return [{"role": m.role, "text": m.content, "files": files_of(m)} for m in messages]
    first = messages[0]
    prompt: dict[str, Any] = {"role": "user", "text": first.content}
    if first.images:
        prompt["files"] = files_of(first)
    return [prompt]


def resolve_params(
    params: Mapping[str, Any], pool: VariablePool
) -> tuple[dict[str, Any], list[str]]:
    """Completion params with `{{#...#}}` references filled (numbers/booleans restored), and
    the `stop` words Dify takes out of them."""
    resolved: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and "{{#" in value:
            text = template_text(value, pool)[:MAX_RESOLVED_PARAM_LENGTH]
            resolved[key] = _literal(text)
        else:
            resolved[key] = value
    stop = resolved.pop("stop", None) or []
    return resolved, [str(s) for s in stop] if isinstance(stop, list) else [str(stop)]


def _literal(text: str) -> Any:
    try:
        parsed = json.loads(text.strip()) if text.strip() else None
    except json.JSONDecodeError:
        return text
    return parsed if isinstance(parsed, int | float | bool) else text
