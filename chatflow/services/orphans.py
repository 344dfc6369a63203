"""Ends the runs of a worker that died (kill -9, OOM, lost machine) as a stop would.

Its run is failed with the answer it had streamed so far, rebuilt from the events it had
published to Redis; every client following its stream gets `workflow_finished` (failed)
and an `error` frame; its stream and task state in Redis are closed, so a stop or a
resume answers at once. Only one live worker closes each dead run (a Redis claim).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from chatflow.engine.events import TextChunk, TextReplace
from chatflow.providers.base import Usage
from chatflow.runtime.redis import RedisRuntime
from chatflow.services.recorder import TurnRecorder
from chatflow.services.turn import StreamItem, TurnEnded, TurnError
from chatflow.store import Database
from chatflow.store import runs as runs_repo
from chatflow.store.lifecycle import RunStore
from chatflow.store.turns import TurnStore

log = logging.getLogger("chatflow.sweeper")

_ERROR = TurnError("internal_server_error", 500, runs_repo.INTERRUPTED)


class OrphanCloser:
    def __init__(self, db: Database, runtime: RedisRuntime[StreamItem]) -> None:
        self._runs: RunStore = TurnStore(db)
        self._runtime = runtime

    async def known_dead(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Runs announced by a worker that no longer heartbeats -> their task ids."""
        return await self._runtime.orphaned_runs(run_ids)

    async def close(self, runs: dict[str, str]) -> int:
        """End each dead run (run id -> task id); returns how many this worker ended."""
        ended = 0
        for run_id, task_id in runs.items():
            if not await self._runtime.claim_orphan(run_id):
                continue  # another worker's sweeper has it
            recorder = TurnRecorder()
            for item in await self._runtime.streams.items(task_id):
                if isinstance(item, TextChunk | TextReplace):
                    recorder.add(item)
            failed = await self._runs.fail_interrupted(run_id, recorder.answer)
            end = TurnEnded(
                run=recorder.synthetic_end(run_id, "failed", runs_repo.INTERRUPTED),
                answer=recorder.answer,
                usage=Usage(),
                error=_ERROR,
            )
            await self._runtime.end_orphan(task_id, end)
            ended += int(failed)
            log.warning(
                "run of a dead worker failed, its stream closed",
                extra={"run_id": run_id, "task_id": task_id, "answer_chars": len(end.answer)},
            )
        return ended
