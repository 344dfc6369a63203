"""The `loop-end` node: reaching it ends the enclosing loop after the current round.

The node itself only succeeds; the loop node watches its children's events and stops
when a `loop-end` node finishes, as Dify's loop does.
"""

from __future__ import annotations

from chatflow.engine.nodes._marker import MarkerConfig as Config
from chatflow.engine.nodes._marker import pass_through as run

TYPE = "loop-end"

__all__ = ["TYPE", "Config", "run"]
