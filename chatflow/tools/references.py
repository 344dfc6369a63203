"""The tools a DSL refers to (tool nodes and agent tools), and which cannot run here.

Import lists the missing ones with the command that maps each (as Dify lists missing
plugins); running such a node fails it with the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatflow.dsl.models import AppDSL
from chatflow.engine.graph import Graph
from chatflow.tools.registry import ToolRegistry


@dataclass(frozen=True, slots=True)
class ToolReference:
    node_id: str
    node_title: str
    provider: str
    tool: str
    provider_type: str = "builtin"


def _agent_tools(config: Any) -> list[Mapping[str, Any]]:
    binding = getattr(config, "agent_parameters", {}).get("tools")
    value = getattr(binding, "value", binding)
    if not isinstance(value, list):
        return []
    return [t for t in value if isinstance(t, Mapping) and t.get("enabled", True)]


def references(graph: Graph) -> list[ToolReference]:
    found: list[ToolReference] = []
    for node in graph.nodes.values():
        config = node.config
        if node.type == "tool":
            provider = getattr(config, "provider_id", "") or getattr(config, "provider_name", "")
            found.append(
                ToolReference(
                    node.id, config.title, str(provider), str(getattr(config, "tool_name", "")),
                    str(getattr(config, "provider_type", "builtin")),
                )
            )  # fmt: skip
        elif node.type == "agent":
            for tool in _agent_tools(config):
                provider = tool.get("provider_id") or tool.get("provider_name") or ""
                found.append(
                    ToolReference(
                        node.id, config.title, str(provider), str(tool.get("tool_name", "")),
                        str(tool.get("provider_type", "builtin")),
                    )
                )  # fmt: skip
    return found


async def missing(registry: ToolRegistry, dsl: AppDSL) -> list[str]:
    """One line per tool reference that cannot run here, saying how to fix it."""
    from chatflow.dsl import to_graph

    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for ref in references(to_graph(dsl)):
        if (ref.provider, ref.tool) in seen:
            continue
        seen.add((ref.provider, ref.tool))
        problem = await registry.missing(ref.provider, ref.tool)
        if problem:
            lines.append(f"{ref.provider_type} tool {ref.provider}/{ref.tool} "
                         f"(node '{ref.node_title or ref.node_id}'): {problem}")  # fmt: skip
    return lines
