"""Prometheus metrics (`/metrics`), correct under several worker processes.

One worker: the default in-process registry. Several (`chatflow serve --workers N`, or
any process manager that sets `PROMETHEUS_MULTIPROC_DIR` to an empty folder before the
workers start): prometheus-client keeps each worker's values in files there and every
worker's `/metrics` adds them all up. Gauges are `livesum`: only live workers count, and
the files of a worker that died (even by SIGKILL) are dropped at the next scrape.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin per series

HTTP_REQUESTS = Counter(
    "chatflow_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "chatflow_http_request_duration_seconds",
    "Time from request to the end of the response (a stream's whole life), by route.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
OPEN_STREAMS = Gauge(
    "chatflow_open_streams",
    "Server-sent event streams being written to clients.",
    multiprocess_mode="livesum",
)
ACTIVE_RUNS = Gauge(
    "chatflow_active_runs",
    "Workflow runs (chat turns and workflow runs) executing in this deployment.",
    multiprocess_mode="livesum",
)
RUNS = Counter("chatflow_runs_total", "Runs ended, by mode and status.", ["mode", "status"])
RUN_DURATION = Histogram(
    "chatflow_run_duration_seconds",
    "Run duration, start to end.",
    ["mode"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1200),
)
NODE_RUNS = Counter(
    "chatflow_node_runs_total", "Node executions, by node type and status.", ["type", "status"]
)
NODE_DURATION = Histogram(
    "chatflow_node_run_duration_seconds",
    "Node execution time, by node type.",
    ["type"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 120),
)
MODEL_TOKENS = Counter(
    "chatflow_model_tokens_total",
    "Model tokens, by kind (prompt or completion).",
    ["kind"],
)
MODEL_TOKENS_PER_SECOND = Histogram(
    "chatflow_model_tokens_per_second",
    "Completion tokens per second of each model call (LLM-type nodes).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
MODEL_QUEUE = Gauge(
    "chatflow_model_queue_depth",
    "Embedded-model requests waiting for a free llama.cpp slot.",
    multiprocess_mode="livesum",
)
MODEL_BUSY = Gauge(
    "chatflow_model_generating",
    "Embedded-model requests generating now (at most `embedded_parallel` per worker).",
    multiprocess_mode="livesum",
)
NAMES_WAITING = Gauge(
    "chatflow_conversation_names_waiting",
    "New conversations waiting for the model to name them (it names only while no turn "
    "runs); past `conversation_naming_backlog` new ones are named after their query.",
    multiprocess_mode="livesum",
)
REJECTED = Counter(
    "chatflow_rejected_runs_total", "Runs refused with 429 because the model queue was full."
)
DB_POOL_IN_USE = Gauge(
    "chatflow_db_pool_checked_out",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
DB_GROUP_COMMIT_WRITES = Histogram(
    "chatflow_db_group_commit_writes",
    "Run writes (turn starts and ends) committed together in one transaction (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
SANDBOX_QUEUE = Gauge(
    "chatflow_sandbox_queue_depth",
    "Code-node jobs waiting for a sandbox slot.",
    multiprocess_mode="livesum",
)
SANDBOX_RUNNING = Gauge(
    "chatflow_sandbox_running",
    "Code-node jobs running in the sandbox.",
    multiprocess_mode="livesum",
)

STREAMS_KEPT_BYTES = Gauge(
    "chatflow_streams_kept_bytes",
    "Without Redis: estimated bytes of finished runs' event streams kept for resuming.",
    multiprocess_mode="livesum",
)
STREAMS_KEPT_RUNS = Gauge(
    "chatflow_streams_kept_runs",
    "Without Redis: finished runs whose event streams are kept for resuming.",
    multiprocess_mode="livesum",
)

_DB_FILE = re.compile(r"gauge_live\w*_(\d+)\.db$")


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_workers(path: Path) -> None:
    """Drop the live gauges of workers that are gone (their counters stay: they happened)."""
    from prometheus_client import multiprocess

    for file in path.glob("gauge_live*_*.db"):
        match = _DB_FILE.search(file.name)
        if match and not _pid_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                multiprocess.mark_process_dead(int(match.group(1)), str(path))  # type: ignore[no-untyped-call]


def render() -> tuple[bytes, str]:
    """The exposition text of every worker's metrics, and its content type."""
    path = multiprocess_dir()
    if path is None:
        from prometheus_client import REGISTRY

        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    from prometheus_client import multiprocess

    _forget_dead_workers(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, str(path))  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
