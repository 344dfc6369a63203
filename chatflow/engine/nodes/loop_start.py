"""The `loop-start` node: marks the start of a loop's subgraph.

It has no config of its own and passes straight through, as in Dify; the loop node
runs its subgraph from here.
"""

from __future__ import annotations

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult

TYPE = "loop-start"


class Config(NodeConfig):
    pass


def run(ctx: NodeContext, config: Config) -> NodeResult:
    return NodeResult()
