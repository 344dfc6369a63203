"""Log lines as JSON (one object per line) or plain text, chosen by `log_format`.

Every line carries time, level, logger, message and worker pid, plus the ids of the
request/run it belongs to (`context.py`) and any `extra={...}` fields given to the call.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from chatflow.observability import context

# Attributes every LogRecord has; anything else came from `extra=` and is logged as a field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured duplicate of the message
}


def _record_with_ids(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record takes the ids of the request/run it was logged in, when it is made
    (a handler may format it later, on another thread)."""
    record = _base_factory(*args, **kwargs)
    current = context.current()
    record._chatflow_ids = current.as_fields() if current is not None else None
    return record


_base_factory = logging.getLogRecordFactory()
if getattr(_base_factory, "__name__", "") != "_record_with_ids":
    logging.setLogRecordFactory(_record_with_ids)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(getattr(record, "_chatflow_ids", None) or {})
    for key, value in record.__dict__.items():
        if key not in _STANDARD and not key.startswith("_"):
            fields[key] = value
    return fields


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        text = (
            f"{_timestamp(record.created)} {record.levelname:<7} [{record.process}] "
            f"{record.name}: {record.getMessage()}"
        )
        if extras:
            text = f"{text}  {extras}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


def configure(log_format: str = "json", level: str = "INFO") -> None:
    """Route every logger (ours and uvicorn's) to stderr in one format.

    uvicorn's own access log is silenced: the middleware writes a richer line per request.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_chatflow", False):
            root.removeHandler(existing)
    handler._chatflow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
