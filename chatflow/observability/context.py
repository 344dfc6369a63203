"""What a log line or a run belongs to: request id, app, task and run, per asyncio context.

The HTTP middleware starts a `RequestContext` per request; the app dependency fills in the
app id, a run fills in its task and run ids. A run's task is created inside the request,
so it inherits the same context object: its log lines carry the request id too.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, fields


@dataclass(slots=True)
class RequestContext:
    request_id: str | None = None
    app_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None

    def as_fields(self) -> dict[str, str]:
        """The ids that are set, for a log line (every log record takes them)."""
        return {name: v for name in _FIELDS if (v := getattr(self, name)) is not None}


_FIELDS = tuple(f.name for f in fields(RequestContext))


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "chatflow_request_context", default=None
)


def current() -> RequestContext | None:
    return _current.get()


def begin(request_id: str | None = None) -> RequestContext:
    """A fresh context for this asyncio context (and the tasks it creates)."""
    context = RequestContext(request_id=request_id)
    _current.set(context)
    return context


def update(**ids: str | None) -> None:
    """Set ids on the current context (a no-op outside one, e.g. in the CLI)."""
    context = _current.get()
    if context is None:
        return
    for name, value in ids.items():
        setattr(context, name, value)


def for_run(**ids: str | None) -> RequestContext:
    """A copy of the current context with a run's ids, installed for the calling task.

    Runs get their own object: two runs started by one request must not share ids.
    """
    parent = _current.get() or RequestContext()
    context = RequestContext(parent.request_id, parent.app_id, parent.task_id, parent.run_id)
    for name, value in ids.items():
        setattr(context, name, value)
    _current.set(context)
    return context
