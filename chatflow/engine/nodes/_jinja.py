"""Sandboxed Jinja2 rendering shared by template-transform and LLM jinja2 prompts.

Dify renders these templates with plain `jinja2.Template(...).render(**inputs)` inside its
code sandbox (autoescape off, trailing newline dropped, undefined names render empty).
We render in-process instead, so the template runs in Jinja2's immutable sandbox and
three guards stand in for the sandbox's time/memory limits: a shared budget for
`range()` items, size checks on `*`/`**`, and an output-length cap checked while the
template streams. Compiled templates are cached: a graph of 50 template nodes in series
must not pay the compile cost on every run. Each render builds its Jinja context from
globals flattened once per template: Jinja's own `generate()` copies the template's
globals `ChainMap` into a dict on every call (~3 µs, most of a short render).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RANGE = 100_000  # one range() call, as jinja2's sandbox allows
RANGE_BUDGET = 1_000_000  # all range() items of one render together
MAX_SEQUENCE_REPEAT = 1_000_000  # longest str/list that `*` may build
MAX_POWER_BITS = 100_000  # largest integer `**` may build
TIME_LIMIT_SECONDS = 5.0


class TemplateRenderError(ValueError):
    """A template failed to compile or render; the message is meant for the user."""


class _Budget:
    __slots__ = ("deadline", "range_left")

    def __init__(self, seconds: float) -> None:
        self.range_left = RANGE_BUDGET
        self.deadline = time.monotonic() + seconds

    def spend(self, items: int) -> None:
        self.range_left -= items
        if self.range_left < 0:
            raise SecurityError(f"template loops exceed {RANGE_BUDGET} range() items")
        if time.monotonic() > self.deadline:
            raise SecurityError("template rendering took too long")


_budget: ContextVar[_Budget | None] = ContextVar("chatflow_jinja_budget", default=None)


def _guarded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise OverflowError(f"range too big: the sandbox allows at most {MAX_RANGE} items")
    budget = _budget.get()
    if budget is not None:
        budget.spend(len(rng))
    return rng


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_SEQUENCE_REPEAT
                ):
                    raise SecurityError("the result of `*` is too large")
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and max(left.bit_length(), 1) * right > MAX_POWER_BITS
        ):
            raise SecurityError("the result of `**` is too large")
        return super().call_binop(context, operator, left, right)


_ENV = _Environment(autoescape=False)
_ENV.globals["range"] = _guarded_range


@dataclass(frozen=True, slots=True)
class _Compiled:
    template: Template
    globals: dict[str, Any]  # the template's globals ChainMap, flattened

    def context(self, variables: Mapping[str, Any]) -> Context:
        """What `Template.new_context` builds, minus its per-call ChainMap copy."""
        template = self.template
        return _ENV.context_class(
            _ENV,
            {**self.globals, **variables},
            template.name,
            template.blocks,
            globals=self.globals,
        )


@lru_cache(maxsize=1024)
def _compile(source: str) -> _Compiled:
    template = _ENV.from_string(source)
    return _Compiled(template, dict(template.globals))


def render(source: str, variables: Mapping[str, Any], *, max_length: int | None = None) -> str:
    """Render `source` with `variables`; raise `TemplateRenderError` with a clear message."""
    try:
        compiled = _compile(source)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(
            f"Template syntax error at line {exc.lineno}: {exc.message}"
        ) from None
    budget = _Budget(TIME_LIMIT_SECONDS)
    token = _budget.set(budget)
    parts: list[str] = []
    length = 0
    try:
        for chunk in compiled.template.root_render_func(compiled.context(variables)):
            parts.append(chunk)
            length += len(chunk)
            if max_length is not None and length > max_length:
                raise TemplateRenderError(f"Output length exceeds {max_length} characters")
            if time.monotonic() > budget.deadline:
                raise SecurityError("template rendering took too long")
    except TemplateRenderError:
        raise
    except (TemplateError, SecurityError, OverflowError) as exc:
        raise TemplateRenderError(f"Template rendering failed: {exc}") from exc
    except Exception as exc:  # any error raised by user template code
        raise TemplateRenderError(
            f"Template rendering failed: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        _budget.reset(token)
    return "".join(parts)
