"""The server's tool registry: every built-in provider, the operator's OpenAPI and MCP
providers, and the operator's mappings."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from chatflow.settings import Settings
from chatflow.tools import builtin, mappings, remote
from chatflow.tools.base import ToolProvider
from chatflow.tools.registry import ToolRegistry


def builtin_providers(settings: Settings) -> list[ToolProvider]:
    """One provider per public module of `chatflow.tools.builtin`, in name order."""
    found: list[ToolProvider] = []
    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{builtin.__name__}.{info.name}")
        make = getattr(module, "provider", None)
        if callable(make):
            found.append(make(settings))
    return found


def build_registry(settings: Settings, extra: Iterable[ToolProvider] = ()) -> ToolRegistry:
    registry = ToolRegistry(builtin_providers(settings))
    # The operator's OpenAPI and MCP providers (`chatflow tools add-openapi|add-mcp`).
    for provider in [*remote.providers(settings), *extra]:
        registry.register(provider)
    for source, target in mappings.load(settings).items():
        registry.map(source, target)
    return registry
