"""What the structural nodes share (`iteration-start`, `loop-start`, `loop-end`): no config
of their own, and a run that succeeds with nothing, as in Dify. What they mean is up to
their container node (where a pass starts; when a loop stops)."""

from __future__ import annotations

from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeResult


class MarkerConfig(NodeConfig):
    """A structural node's config: the common node fields only."""


def pass_through(ctx: NodeContext, config: NodeConfig) -> NodeResult:
    return NodeResult()
