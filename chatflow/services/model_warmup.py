"""Loads the default embedded model in the background when a server starts.

The first chat would otherwise wait for the GGUF to load (and, after a plain
`pip install`, to be fetched); meanwhile `/readyz` says `loading`, then `ok` or the error.
"""

from __future__ import annotations

import asyncio
import logging

from chatflow.providers.embedded import EmbeddedLLM
from chatflow.settings import Settings

log = logging.getLogger("chatflow.model")


class ModelWarmup:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.state = "loading"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._load(), name="model-warmup")

    async def _load(self) -> None:
        s = self._settings
        llm = EmbeddedLLM(
            s.embedded_model_path,
            context_size=s.embedded_context_size,
            parallel=s.embedded_parallel,
            threads=s.embedded_threads,
        )
        try:
            await asyncio.to_thread(llm.load)
        except Exception as exc:
            self.state = f"error: {exc}"[:300]
            log.error("embedded model failed to load: %s", exc)
            return
        self.state = "ok"
        log.info("embedded model loaded", extra={"model_path": llm.model_path})

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()  # the load itself finishes in its thread
            await asyncio.gather(self._task, return_exceptions=True)
