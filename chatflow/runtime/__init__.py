"""Run-time coordination of chat turns: which task runs where, stop signals, event streams.

`base` holds the protocols; `local` is the in-process implementation used by a single
worker; `redis` implements them for many workers (imported only when Redis is set up),
with `codec` turning stream items into bytes.
"""

from chatflow.runtime.base import EventStream, TaskRegistry
from chatflow.runtime.local import LocalEventStream, LocalTaskRegistry

__all__ = ["EventStream", "LocalEventStream", "LocalTaskRegistry", "TaskRegistry"]
