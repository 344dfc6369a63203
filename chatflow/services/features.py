"""App features that act around a chat turn's graph run, in Dify's order.

1. Input moderation (`sensitive_word_avoidance`): flagged inputs or query are answered
   with the preset response; the graph does not run.
2. Annotation reply: a query close enough to an annotation is answered with it (hit
   counted and kept in the hit history); the graph does not run.
3. Output moderation: a flagged answer is replaced by the output preset (`TextReplace`,
   sent as `message_replace` right before `message_end`, and saved as the answer).

A direct answer is one `TextChunk` and a `RunFinished`, so the turn is recorded, saved and
streamed like any other; as in Dify it has no workflow events, and `message_end` carries
`metadata.annotation_reply` for an annotation's answer.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from chatflow.engine import events as ev
from chatflow.errors import ChatflowError
from chatflow.providers.base import Usage
from chatflow.services.annotations import AnnotationService
from chatflow.services.apps import LoadedApp
from chatflow.services.moderation import ModerationService
from chatflow.services.turn import TurnEnded, TurnInfo

log = logging.getLogger("chatflow.features")

# Dify names the console account that wrote the annotation; here the app stands in.
ANNOTATION_AUTHOR = "Dify user"


class TurnFeatures:
    """Builds the per-turn `FeatureRun`; one per server."""

    def __init__(self, annotations: AnnotationService, moderation: ModerationService) -> None:
        self.annotations = annotations
        self.moderation = moderation

    def around(
        self, app: LoadedApp, info: TurnInfo, *, query: str, inputs: Mapping[str, Any]
    ) -> FeatureRun:
        return FeatureRun(self, app, info, query, inputs)


class FeatureRun:
    """One turn's features: `events(run)` wraps the graph run, `finish` the turn's end."""

    def __init__(
        self,
        features: TurnFeatures,
        app: LoadedApp,
        info: TurnInfo,
        query: str,
        inputs: Mapping[str, Any],
    ) -> None:
        self._features = features
        self._app = app
        self._info = info
        self._query = query
        self._inputs = inputs
        self._parts: list[str] = []
        self.graph_ran = False
        self.annotation_reply: dict[str, Any] | None = None

    def finish(self, end: TurnEnded) -> TurnEnded:
        """The turn's end with what the features add (annotation metadata, no workflow).
        Citations (`retriever_resources`) are kept only when the app's
        `retriever_resource` feature is on, as Dify's `show_retrieve_source`."""
        shown = bool(self._app.dsl.features.retriever_resource.get("enabled"))
        if (
            self.annotation_reply is None
            and self.graph_ran
            and end.annotation_reply is None
            and end.graph_ran
            and (shown or not end.retriever_resources)
        ):
            return end  # nothing to add: no copy (`replace` costs ~3 µs)
        return dataclasses.replace(
            end,
            annotation_reply=self.annotation_reply,
            graph_ran=self.graph_ran,
            retriever_resources=end.retriever_resources if shown else (),
        )

    async def events(self, run: Callable[[], AsyncIterator[ev.Event]]) -> AsyncIterator[ev.Event]:
        """The turn's events: a direct answer, or `run()`'s events checked on the way out."""
        started = time.time()
        feature = self._app.dsl.features.sensitive_word_avoidance
        moderation = self._features.moderation
        try:
            preset = await moderation.check_inputs(feature, self._inputs, self._query)
        except ChatflowError as exc:
            yield self._end(started, "", error=exc.message)
            return
        if preset is not None:
            yield ev.TextChunk(text=preset, from_node_id="")
            yield self._end(started, preset)
            return
        answer = await self._annotation_answer()
        if answer is not None:
            yield ev.TextChunk(text=answer, from_node_id="")
            yield self._end(started, answer)
            return
        self.graph_ran = True
        inner = run()
        try:
            async for event in inner:
                if isinstance(event, ev.TextChunk):
                    self._parts.append(event.text)
                elif isinstance(event, ev.TextReplace):
                    self._parts = [event.text]
                elif isinstance(event, ev.RunFinished) and event.status != "failed":
                    replacement = await self._moderate_output(feature)
                    if replacement is not None:
                        yield ev.TextReplace(text=replacement)
                yield event
        finally:
            aclose = getattr(inner, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _annotation_answer(self) -> str | None:
        """The matching annotation's answer (hit recorded), or None to run the graph.

        A failing embedder must not take the app down: the graph answers instead.
        """
        annotations = self._features.annotations
        info = self._info
        try:
            match = await annotations.match(self._app.id, self._query)
        except Exception:
            log.exception("annotation reply lookup failed for app %s", self._app.id)
            return None
        if match is None:
            return None
        await annotations.record_hit(
            self._app.id,
            match,
            query=self._query,
            message_id=info.message_id,
            end_user_id=info.end_user_id,
        )
        self.annotation_reply = {
            "id": match.id,
            "account": {"id": self._app.id, "name": ANNOTATION_AUTHOR},
        }
        return match.answer

    async def _moderate_output(self, feature: Mapping[str, Any]) -> str | None:
        """Dify's output moderation logs a failing check and lets the answer through."""
        try:
            return await self._features.moderation.check_output(feature, "".join(self._parts))
        except ChatflowError as exc:
            log.warning("output moderation failed for app %s: %s", self._app.id, exc)
            return None

    def _end(self, started: float, answer: str, *, error: str | None = None) -> ev.RunFinished:
        return ev.RunFinished(
            run_id=self._info.workflow_run_id,
            status="failed" if error is not None else "succeeded",
            outputs={} if error is not None else {"answer": answer},
            error=error,
            started_at=started,
            finished_at=time.time(),
            total_tokens=0,
            total_steps=0,
            usage=Usage(),
        )
