"""Drive one engine run to its end: record and publish its events, survive stop and crash.

Shared by every kind of run (chat turns, workflow runs). The caller's task iterates the
engine; a stop is the cancellation of that task, which closes the engine's generator at
once (cancelling the in-flight model call) and ends the run `stopped` with what was
recorded so far. A crash ends it `failed`. Either way the result is a `RunFinished`,
which the caller saves before publishing its closing item.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from chatflow.engine.events import Event, RunFinished
from chatflow.services.recorder import STOPPED_MESSAGE, TurnRecorder

log = logging.getLogger("chatflow.runs")


async def drive(
    events: AsyncIterator[Event],
    recorder: TurnRecorder,
    publish: Callable[[Event], Awaitable[Any]],
    run_id: str,
) -> RunFinished:
    """Consume `events` (from `run_graph`); every event but `RunFinished` is published."""
    finished: RunFinished | None = None
    try:
        try:
            async for event in events:
                recorder.add(event)
                if isinstance(event, RunFinished):
                    finished = event
                else:
                    await publish(event)
        finally:
            # Closing the generator at once (also when cancelled) stops the run and its
            # in-flight model call instead of leaving them to the garbage collector.
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
    except asyncio.CancelledError:
        # Stopped: clear the cancellation so the caller can save the partial run.
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        return recorder.synthetic_end(run_id, "stopped", STOPPED_MESSAGE)
    except Exception as exc:
        log.exception("run %s crashed", run_id)
        return recorder.synthetic_end(run_id, "failed", str(exc) or repr(exc))
    if finished is None:
        return recorder.synthetic_end(run_id, "failed", "run ended early")
    return finished
