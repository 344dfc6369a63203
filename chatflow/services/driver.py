"""Drive one engine run to its end: record and publish its events, save, close the stream.

Shared by every kind of run: chat turns, workflow runs and the resumed segments of
either. The caller's task iterates the engine; a stop is the cancellation of that task,
which closes the engine's generator at once (cancelling the in-flight model call) and
ends the run `stopped` with what was recorded so far. A crash ends it `failed`, and so
does a pause the caller cannot keep. The run's `TurnEnded` is published, closing the
stream, only after the caller's `save`: a client that sees the end can read it back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from prometheus_client import Counter, Histogram

from chatflow.engine.events import Event, NodeFinished, RunFinished, RunPaused
from chatflow.observability import context
from chatflow.observability import metrics as m
from chatflow.runtime.base import EventStream
from chatflow.services.recorder import MODEL_REQUEST_ERROR, STOPPED_MESSAGE, TurnRecorder
from chatflow.services.turn import StreamItem, TurnEnded, TurnError, TurnInfo

log = logging.getLogger("chatflow.runs")

Save = Callable[[TurnEnded], Awaitable[None]]


async def drive(
    events: AsyncIterator[Event],
    recorder: TurnRecorder,
    publish: Callable[[Event], Awaitable[object]] | None,
    run_id: str,
) -> RunFinished | RunPaused:
    """Consume `events` (from `run_graph`); all but `RunFinished`/`RunPaused` are
    published (unless `publish` is None), those two end the run and are the result."""
    finished: RunFinished | None = None
    paused: RunPaused | None = None
    try:
        try:
            async for event in events:
                recorder.add(event)
                if isinstance(event, NodeFinished):
                    _observe_node(event)
                if isinstance(event, RunFinished):
                    finished = event
                elif isinstance(event, RunPaused):
                    paused = event
                elif publish is not None:
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
    if finished is not None:
        return finished
    if paused is not None:
        return paused
    return recorder.synthetic_end(run_id, "failed", "run ended early")


# Labelled children of the run metrics, looked up once per label set: `labels()` costs
# ~1.5 µs a call, and these are called for every node and run. (A child is still created
# when first observed, so /metrics shows the same series.)
@functools.cache
def _node_series(node_type: str, status: str) -> tuple[Counter, Histogram]:
    return m.NODE_RUNS.labels(node_type, status), m.NODE_DURATION.labels(node_type)


@functools.cache
def _token_series() -> tuple[Counter, Counter]:
    return m.MODEL_TOKENS.labels("prompt"), m.MODEL_TOKENS.labels("completion")


@functools.cache
def _run_series(mode: str, status: str) -> tuple[Counter, Histogram]:
    return m.RUNS.labels(mode, status), m.RUN_DURATION.labels(mode)


def _observe_node(event: NodeFinished) -> None:
    runs, duration = _node_series(event.node_type, event.status)
    runs.inc()
    duration.observe(max(event.elapsed, 0.0))
    usage = event.usage
    if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
        prompt, completion = _token_series()
        prompt.inc(usage.prompt_tokens)
        completion.inc(usage.completion_tokens)
        if usage.completion_tokens and usage.latency > 0:
            m.MODEL_TOKENS_PER_SECOND.observe(usage.completion_tokens / usage.latency)


def turn_end(outcome: RunFinished | RunPaused, recorder: TurnRecorder, run_id: str) -> TurnEnded:
    """The closing stream item of a finished or paused run."""
    paused = outcome if isinstance(outcome, RunPaused) else None
    usage = outcome.usage if outcome.usage is not None else recorder.node_usage
    if isinstance(outcome, RunPaused):
        run = RunFinished(
            run_id=run_id,
            status="paused",
            outputs={},
            error=None,
            started_at=outcome.started_at,
            finished_at=outcome.paused_at,
            total_tokens=outcome.total_tokens,
            total_steps=outcome.total_steps,
            usage=usage,
        )
    else:
        run = outcome
    error = None
    if run.status == "failed":
        error = failed_turn_error(run, recorder)
    return TurnEnded(
        run=run,
        answer=recorder.answer,
        usage=usage,
        retriever_resources=recorder.retriever_resources or (),
        error=error,
        paused=paused,
        agent_thoughts=recorder.agent_thoughts.thoughts,
    )


def failed_turn_error(run: RunFinished, recorder: TurnRecorder) -> TurnError:
    """How a failed run reaches the client. In a chat or agent-chat app a run failed by a
    model request (a prompt that cannot fit the context names the sizes) is Dify's
    `completion_request_error`, as its `InvokeError` -> `CompletionRequestError` mapping
    reports it; any other failure, and every failure of an advanced-chat run, is
    `invalid_param` "Run failed: ...", as Dify's workflow failure is."""
    if recorder.model_request_error is not None:
        return TurnError(MODEL_REQUEST_ERROR, 400, recorder.model_request_error)
    return TurnError("invalid_param", 400, f"Run failed: {run.error}")


async def run_to_end(
    events: AsyncIterator[Event],
    *,
    info: TurnInfo,
    streams: EventStream[StreamItem],
    recorder: TurnRecorder,
    save: Save,
    save_pause: Save | None = None,
    finish: Callable[[TurnEnded], TurnEnded] | None = None,
    publish_events: bool = True,
) -> TurnEnded:
    """Drive the run, save it (`save_pause` when it paused; without one a pause ends it
    failed), then publish its `TurnEnded` and close its stream. `finish` lets the
    caller add to the end (chat features) before it is saved. Without `publish_events`
    (a blocking request: nobody reads the stream) only the `TurnEnded` is published."""

    publish = functools.partial(streams.publish, info.task_id) if publish_events else None
    run_id = info.workflow_run_id
    # This task's log lines (and the request's access line) name the run.
    context.update(task_id=info.task_id, run_id=run_id)
    started = time.perf_counter()
    m.ACTIVE_RUNS.inc()
    try:
        outcome = await drive(events, recorder, publish, run_id)
    finally:
        m.ACTIVE_RUNS.dec()
    if isinstance(outcome, RunPaused) and save_pause is None:
        outcome = recorder.synthetic_end(run_id, "failed", "run ended early")
    end = turn_end(outcome, recorder, run_id)
    if finish is not None:
        end = finish(end)
    try:
        await (save_pause if end.paused is not None and save_pause else save)(end)
    except Exception:
        log.exception("saving run %s failed", run_id)
    finally:
        await streams.publish(info.task_id, end)
        await streams.close(info.task_id)
        elapsed = time.perf_counter() - started
        runs, duration = _run_series(info.mode, end.run.status)
        runs.inc()
        duration.observe(elapsed)
        log.info(
            "run %s",
            end.run.status,
            extra={
                "task_id": info.task_id,
                "run_id": run_id,
                "mode": info.mode,
                "status": end.run.status,
                "duration_ms": round(elapsed * 1000, 2),
                "steps": end.run.total_steps,
                "tokens": end.run.total_tokens,
                "answer_chars": len(end.answer),
            },
        )
    return end
