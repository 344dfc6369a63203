"""Back-pressure: refuse a new run with 429 while the embedded model's queue is full.

The embedded model generates `embedded_parallel` answers at a time per worker; every
other request waits in llama.cpp's queue. Past `model_queue_max` waiting requests a new
run would only wait minutes for its first token, so it is refused at once with Dify's
`too_many_requests` envelope and the client may retry (or go to another worker).
"""

from __future__ import annotations

from chatflow.errors import TooManyRequests
from chatflow.observability import metrics as m
from chatflow.providers.embedded import MODEL_QUEUE, ModelQueue


class RunAdmission:
    def __init__(self, queue_max: int, queue: ModelQueue = MODEL_QUEUE) -> None:
        self._max = queue_max
        self.queue = queue

    def check(self) -> None:
        """Raise `TooManyRequests` when a new run should not start now."""
        if self._max and self.queue.waiting >= self._max:
            m.REJECTED.inc()
            raise TooManyRequests(
                f"The server is busy: {self.queue.waiting} model requests are waiting. "
                "Please retry later."
            )
