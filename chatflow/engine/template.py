"""Dify variable templates: `{{#node_id.var#}}` references inside prompt/answer text.

`parse` splits a template into literal text and selectors (the answer coordinator streams
them in order); `render` fills them from a pool. An unresolvable reference renders as its bare
path (`node.var`), as Dify's `convert_template` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from chatflow.engine.files import File, to_json
from chatflow.engine.variables import MISSING, VariablePool

# Same shape Dify accepts: node id, then 1-10 dotted names.
VARIABLE_PATTERN = re.compile(
    r"\{\{#([a-zA-Z0-9_]{1,50}(?:\.[a-zA-Z_][a-zA-Z0-9_]{0,29}){1,10})#\}\}"
)


@dataclass(frozen=True, slots=True)
class Reference:
    selector: tuple[str, ...]
    raw: str


Segment = str | Reference
TextStyle = Literal["text", "markdown"]


@lru_cache(maxsize=4096)
def parse(template: str) -> tuple[Segment, ...]:
    """Split a template into literal strings and references, in order."""
    segments: list[Segment] = []
    position = 0
    for match in VARIABLE_PATTERN.finditer(template):
        if match.start() > position:
            segments.append(template[position : match.start()])
        segments.append(Reference(tuple(match.group(1).split(".")), match.group(0)))
        position = match.end()
    if position < len(template):
        segments.append(template[position:])
    return tuple(segments)


def selectors(template: str) -> list[tuple[str, ...]]:
    return [s.selector for s in parse(template) if isinstance(s, Reference)]


def to_text(value: Any, style: TextStyle = "text") -> str:
    """How Dify turns a variable value into text.

    `markdown` is used for answer output: arrays become `- item` lines and objects
    pretty-printed JSON; `text` is used in prompts: arrays/objects as compact JSON.
    """
    if value is None or value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, File):
        return _file_text(value, style)
    if isinstance(value, list | tuple):
        if style == "markdown":
            return "\n".join(f"- {to_text(item, style)}" for item in value)
        return json.dumps(to_json(value, float), ensure_ascii=False)
    if isinstance(value, dict):
        if style == "markdown":
            return json.dumps(to_json(value, float), ensure_ascii=False, indent=2)
        return json.dumps(to_json(value, float), ensure_ascii=False)
    return str(value)


def _file_text(file: File, style: TextStyle) -> str:
    url = file.url or ""
    if style == "markdown":
        if file.type == "image":
            return f"![{file.filename}]({url})"
        return f"[{file.filename}]({url})"
    return url or file.filename


def render(template: str, pool: VariablePool, style: TextStyle = "text") -> str:
    parts: list[str] = []
    for segment in parse(template):
        if isinstance(segment, str):
            parts.append(segment)
            continue
        value = pool.get(segment.selector)
        parts.append(".".join(segment.selector) if value is MISSING else to_text(value, style))
    return "".join(parts)


def render_selectors(selector_list: Sequence[Sequence[str]], pool: VariablePool) -> list[Any]:
    return [pool.get(s, None) for s in selector_list]
