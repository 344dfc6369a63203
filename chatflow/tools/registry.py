"""Which provider runs a DSL's tool: every id form Dify writes, plus operator mappings.

A tool node names its provider as a built-in name (`time`), a marketplace id
(`langgenius/time/time`, `author/plugin/provider`), or, for `api`/`workflow`/`mcp`
providers, a workspace id that only means something in the author's Dify. The registry
resolves, in order: an operator mapping for `provider:tool`, one for the provider, the
provider's canonical id or one of its aliases, and the last segment of a marketplace id.
A reference it cannot resolve fails with the `chatflow tools map` command that fixes it.

    registry = ToolRegistry([TimeProvider(), ...], mappings={"my-uuid": "time"})
    tool = await registry.find("langgenius/time/time", "current_time")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chatflow.tools.base import Tool, ToolDescriptor, ToolError, ToolProvider

# Separates a provider id from a tool name in mappings and `chatflow tools` arguments;
# provider ids contain `/`, never `:`.
SEP = ":"


class ToolNotFound(ToolError):
    """A DSL reference no provider here answers to; the message says how to map it."""

    code = "tool_not_found"


@dataclass(frozen=True, slots=True)
class ToolRef:
    """A parsed `PROVIDER` or `PROVIDER:TOOL` argument."""

    provider: str
    tool: str | None = None

    @classmethod
    def parse(cls, text: str) -> ToolRef:
        provider, _, tool = text.strip().partition(SEP)
        if not provider.strip():
            raise ToolError(f"a tool reference needs a provider id, got {text!r}")
        return cls(provider.strip(), tool.strip() or None)

    def __str__(self) -> str:
        return f"{self.provider}{SEP}{self.tool}" if self.tool else self.provider


def map_command(provider: str, tool: str) -> str:
    """The command an operator runs to send this DSL reference to a tool here."""
    return f"chatflow tools map '{provider}{SEP}{tool}' PROVIDER{SEP}TOOL"


@dataclass(frozen=True, slots=True)
class Resolved:
    provider: ToolProvider
    tool_name: str


class ToolRegistry:
    """Providers by canonical id and alias, and the operator's mappings."""

    def __init__(
        self,
        providers: Iterable[ToolProvider] = (),
        *,
        mappings: Mapping[str, str] | None = None,
    ) -> None:
        self._providers: dict[str, ToolProvider] = {}
        self._aliases: dict[str, str] = {}
        self._mappings: dict[str, ToolRef] = {}
        # Bumped on every change, so callers may cache what they resolved.
        self.version = 0
        for provider in providers:
            self.register(provider)
        for source, target in (mappings or {}).items():
            self.map(source, target)

    # -- set-up --------------------------------------------------------------------------

    def register(self, provider: ToolProvider) -> None:
        """Add a provider; a later one with the same id replaces the earlier one."""
        self._providers[provider.id] = provider
        for alias in provider.aliases:
            self._aliases[alias] = provider.id
        self.version += 1

    def unregister(self, provider_id: str) -> ToolProvider | None:
        """Remove a provider (and its aliases); the one removed, to close, or None."""
        found = self._providers.pop(provider_id, None)
        if found is not None:
            for alias in found.aliases:
                if self._aliases.get(alias) == provider_id:
                    del self._aliases[alias]
            self.version += 1
        return found

    def map(self, source: str, target: str) -> None:
        """Send DSL reference `source` (`PROVIDER` or `PROVIDER:TOOL`) to `target`."""
        self._mappings[str(ToolRef.parse(source))] = ToolRef.parse(target)
        self.version += 1

    @property
    def mappings(self) -> dict[str, str]:
        return {source: str(target) for source, target in self._mappings.items()}

    @property
    def providers(self) -> Sequence[ToolProvider]:
        return list(self._providers.values())

    # -- resolution ----------------------------------------------------------------------

    def provider(self, provider_id: str) -> ToolProvider | None:
        """The provider a DSL id names, without mappings: canonical, alias, last segment."""
        found = self._providers.get(provider_id)
        if found is None and provider_id in self._aliases:
            found = self._providers.get(self._aliases[provider_id])
        if found is None and "/" in provider_id:
            last = provider_id.rstrip("/").rsplit("/", 1)[-1]
            found = self._providers.get(last) or self._providers.get(self._aliases.get(last, ""))
        return found

    def resolve(self, provider_id: str, tool_name: str) -> Resolved | None:
        """Where a node's `provider_id`/`tool_name` runs, or None when nothing answers."""
        for key in (f"{provider_id}{SEP}{tool_name}", provider_id):
            target = self._mappings.get(key)
            if target is not None:
                provider = self.provider(target.provider)
                if provider is None:
                    return None
                return Resolved(provider, target.tool or tool_name)
        provider = self.provider(provider_id)
        return Resolved(provider, tool_name) if provider is not None else None

    async def find(self, provider_id: str, tool_name: str) -> Tool:
        """The tool to run; raises `ToolNotFound` with the mapping command when absent."""
        resolved = self.resolve(provider_id, tool_name)
        if resolved is None:
            raise ToolNotFound(
                f"tool provider '{provider_id}' is not configured: no provider here answers "
                f"to it; map it to a tool that `chatflow tools list` shows with: "
                f"{map_command(provider_id, tool_name)}"
            )
        for tool in await resolved.provider.tools():
            if tool.descriptor.name == resolved.tool_name:
                return tool
        raise ToolNotFound(
            f"tool '{resolved.tool_name}' is not a tool of provider '{resolved.provider.id}'; "
            f"map it with: {map_command(provider_id, tool_name)}"
        )

    async def describe(self, provider_id: str, tool_name: str) -> ToolDescriptor:
        return (await self.find(provider_id, tool_name)).descriptor

    async def missing(self, provider_id: str, tool_name: str) -> str | None:
        """Why this reference cannot run here (unknown or unconfigured), or None."""
        try:
            await self.find(provider_id, tool_name)
        except ToolError as error:
            return error.message
        resolved = self.resolve(provider_id, tool_name)
        needs = resolved.provider.missing_configuration() if resolved else None
        if needs:
            return f"tool provider '{provider_id}' needs configuration: set {needs}"
        return None
