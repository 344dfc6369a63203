"""Run-time coordination of chat turns: which task runs where, stop signals, event streams.

`base` holds the protocols; `local` is the in-process implementation used by a single
worker. A Redis implementation (multi-worker) plugs in behind the same protocols.
"""

from chatflow.runtime.base import EventStream, TaskRegistry
from chatflow.runtime.local import LocalEventStream, LocalTaskRegistry

__all__ = ["EventStream", "LocalEventStream", "LocalTaskRegistry", "TaskRegistry"]
