"""The `iteration-start` node: marks the start of an iteration's subgraph.

It has no config of its own and passes straight through, as in Dify; the iteration node
runs its subgraph from here.
"""

from __future__ import annotations

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult

TYPE = "iteration-start"


class Config(NodeConfig):
    pass


def run(ctx: NodeContext, config: Config) -> NodeResult:
    return NodeResult()
