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

import re
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError, pass_eval_context
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


# str methods and filters whose result can be far larger than their inputs: the result's
# size is bounded before they run (`"x"|replace("", "y" * 1000)` would build gigabytes).
_GROWING_METHODS = frozenset({"replace", "center", "ljust", "rjust", "zfill", "expandtabs"})
_FIELD = re.compile(r"\{[^{}]*\}")
_DIGITS = re.compile(r"\d+")
_NESTED = re.compile(r"\{[^{}]*\{")
_WIDTH = re.compile(r"%[-+ #0]*(\d+|\*)?(?:\.(\d+|\*))?")


def _grown_size(name: str, text: str, args: tuple[Any, ...]) -> int:
    """An upper bound on the length `text.<name>(*args)` would have."""
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], str(args[1])
        count = len(text) + 1 if old == "" else text.count(old)
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            count = min(count, args[2])
        return len(text) + count * max(len(new) - len(old), 0)
    if name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        return len(text) + text.count("\t") * max(size, 0)
    if args and isinstance(args[0], int):  # center, ljust, rjust, zfill: a width
        return max(len(text), args[0])
    return len(text)


def _check_growth(name: str, text: str, args: tuple[Any, ...]) -> None:
    if _grown_size(name, text, args) > MAX_SEQUENCE_REPEAT:
        raise SecurityError(f"the result of {name}() is too large")


def _guarded_replace(text: Any, old: Any, new: Any, count: int | None = None) -> str:
    value = str(text)
    args: tuple[Any, ...] = (str(old), str(new)) + ((count,) if count is not None else ())
    _check_growth("replace", value, args)
    return value.replace(*args)


def _guarded_center(text: Any, width: int = 80) -> str:
    _check_growth("center", str(text), (width,))
    return str(text).center(width)


def _guarded_indent(
    text: Any, width: int | str = 4, first: bool = False, blank: bool = False
) -> str:
    from jinja2.filters import do_indent

    value = str(text)
    pad = width if isinstance(width, int) else len(str(width))
    if (value.count("\n") + 1) * max(pad, 0) + len(value) > MAX_SEQUENCE_REPEAT:
        raise SecurityError("the result of indent() is too large")
    return str(do_indent(value, width, first, blank))


def _check_join(items: Any, separator: str = "") -> None:
    if isinstance(items, list | tuple):
        size = sum(len(str(item)) for item in items) + len(separator) * len(items)
        if size > MAX_SEQUENCE_REPEAT:
            raise SecurityError("the result of join() is too large")


def _guarded_join(context: Any, items: Any, separator: str = "", attribute: Any = None) -> str:
    from jinja2.filters import sync_do_join

    if attribute is None:
        _check_join(items if isinstance(items, list | tuple) else list(items), separator)
    result = sync_do_join(context, items, separator, attribute)
    if len(result) > MAX_SEQUENCE_REPEAT:
        raise SecurityError("the result of join() is too large")
    return str(result)


def _guarded_format(value: Any, *args: Any, **kwargs: Any) -> str:
    from jinja2.filters import do_format

    if isinstance(value, str):
        _check_format(value, kwargs or args)
    return str(do_format(value, *args, **kwargs))


def _check_format_method(template: str) -> None:
    """`"{:>999999999}".format(x)`: refuse any number in a replacement field past the limit."""
    for field_text in _FIELD.findall(template):
        for number in _DIGITS.findall(field_text):
            if int(number) > MAX_SEQUENCE_REPEAT:
                raise SecurityError("the result of format() is too large")


def _check_format(template: str, values: Any) -> None:
    """`"%999999999s" % x`: refuse widths and precisions past the limit."""
    numbers = [values] if not isinstance(values, tuple) else list(values)
    for match in _WIDTH.finditer(template):
        for group in match.groups():
            if group is None:
                continue
            if group == "*":
                width = numbers.pop(0) if numbers else 0
            else:
                width = int(group)
            if isinstance(width, int) and abs(width) > MAX_SEQUENCE_REPEAT:
                raise SecurityError("the result of `%` is too large")


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call(
        __self,  # jinja2 names it so: `self` may be a template argument
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        name = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if name in _GROWING_METHODS:
                _check_growth(name, owner, args)
            elif name == "join" and args:
                _check_join(args[0], owner)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """Jinja wraps `str.format` at attribute access; refuse huge widths there."""
        owner = getattr(value, "__self__", None)
        is_format = getattr(value, "__name__", "") in ("format", "format_map")
        if not isinstance(owner, str) or not is_format:
            return super().wrap_str_format(value)
        _check_format_method(owner)
        wrapped = super().wrap_str_format(value)
        if wrapped is None or not _NESTED.search(owner):
            return wrapped

        def nested(*args: Any, **kwargs: Any) -> Any:
            # `"{0:{1}}".format(x, 999999999)`: the width comes from an argument.
            values = [*args, *kwargs.values()]
            if len(args) == 1 and isinstance(args[0], Mapping):
                values += list(args[0].values())
            for item in values:
                if isinstance(item, int | str):
                    _check_format_method("{" + str(item) + "}")
            return wrapped(*args, **kwargs)

        return nested

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%":
            if isinstance(left, str):
                _check_format(left, right)
            return super().call_binop(context, operator, left, right)
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
_ENV.filters["replace"] = _guarded_replace
_ENV.filters["center"] = _guarded_center
_ENV.filters["indent"] = _guarded_indent
_ENV.filters["format"] = _guarded_format
_ENV.filters["join"] = pass_eval_context(_guarded_join)


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
