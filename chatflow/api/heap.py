"""The garbage collector's settings for a serving process.

Measured on the blocking echo benchmark (`bench.load`'s SQLite row): with Python's
defaults the cyclic collector took about a third of the server's CPU. Two causes:

- Every full collection walked everything built at start-up (the app, its routes and
  schemas, loaded DSLs, SQLAlchemy's metadata): ~250k objects that live as long as the
  process. `gc.freeze()` once start-up is done moves them out of the collector's sight.
- Generation 0 was collected every 700 net container allocations, several times per
  request. A higher threshold lets most of a request's objects die by reference count
  before a collection ever looks at them; what it collects per request stays the same.

Done once per process: a test process builds many apps, and freezing at each one's start
would keep whatever those tests leave in reference cycles for good.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_settled = False


def settle(gen0_threshold: int) -> bool:
    """After start-up: freeze what exists now and set generation 0's threshold (0 keeps
    Python's). Returns False when an earlier call in this process already did."""
    global _settled
    with _lock:
        if _settled:
            return False
        _settled = True
    gc.collect()
    gc.freeze()
    if gen0_threshold > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)
    return True
