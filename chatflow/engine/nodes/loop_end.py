"""The `loop-end` node: reaching it ends the enclosing loop after the current round.

The node itself only succeeds; the loop node watches its children's events and stops
when a `loop-end` node finishes, as Dify's loop does.
"""

from __future__ import annotations

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult

TYPE = "loop-end"


class Config(NodeConfig):
    pass


def run(ctx: NodeContext, config: Config) -> NodeResult:
    return NodeResult()
