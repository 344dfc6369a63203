"""Small building blocks shared by the built-in providers.

A built-in tool is an async generator function of `(parameters, ctx)` wrapped with its
descriptor; a built-in provider is a fixed list of such tools with its ids.

    async def now(params, ctx): yield TextMessage(...)
    provider = BuiltinProvider("time", ("langgenius/time/time",), "Time",
                               [FunctionTool(ToolDescriptor(...), now)])
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from chatflow.tools.base import Tool, ToolContext, ToolDescriptor, ToolError, ToolMessage

ToolFunction = Callable[[Mapping[str, Any], ToolContext], AsyncIterator[ToolMessage]]


class FunctionTool:
    """A tool whose behaviour is one async generator function."""

    def __init__(self, descriptor: ToolDescriptor, function: ToolFunction) -> None:
        self.descriptor = descriptor
        self._function = function

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        return self._function(parameters, ctx)


class BuiltinProvider:
    """A provider with a fixed tool list; `needs` says which settings are missing."""

    def __init__(
        self,
        id: str,
        aliases: Iterable[str],
        label: str,
        tools: Sequence[Tool],
        *,
        needs: Callable[[], str | None] | None = None,
    ) -> None:
        self.id = id
        self.aliases = tuple(aliases)
        self.label = label
        self._tools = tuple(tools)
        self._needs = needs

    async def tools(self) -> Sequence[Tool]:
        return self._tools

    def missing_configuration(self) -> str | None:
        return self._needs() if self._needs is not None else None


def text_param(parameters: Mapping[str, Any], name: str, default: str = "") -> str:
    """A parameter as text; None and missing are `default`."""
    value = parameters.get(name)
    if value is None:
        return default
    return value if isinstance(value, str) else str(value)


def required_text(parameters: Mapping[str, Any], name: str) -> str:
    value = text_param(parameters, name).strip()
    if not value:
        raise ToolError(f"parameter '{name}' is required")
    return value
