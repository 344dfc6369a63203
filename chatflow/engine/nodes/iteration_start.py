"""The `iteration-start` node: marks the start of an iteration's subgraph.

It has no config of its own and passes straight through, as in Dify; the iteration node
runs its subgraph from here.
"""

from __future__ import annotations

from chatflow.engine.nodes._marker import MarkerConfig as Config
from chatflow.engine.nodes._marker import pass_through as run

TYPE = "iteration-start"

__all__ = ["TYPE", "Config", "run"]
