"""The `loop-start` node: marks the start of a loop's subgraph.

It has no config of its own and passes straight through, as in Dify; the loop node
runs its subgraph from here.
"""

from __future__ import annotations

from chatflow.engine.nodes._marker import MarkerConfig as Config
from chatflow.engine.nodes._marker import pass_through as run

TYPE = "loop-start"

__all__ = ["TYPE", "Config", "run"]
