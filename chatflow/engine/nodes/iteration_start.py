"""The `iteration-start` node: marks the start of an iteration's subgraph.

It has no config of its own and passes straight through, as in Dify; the iteration node
runs its subgraph from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult

TYPE = "iteration-start"


class Config(NodeConfig):
    pass


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    yield NodeResult()
