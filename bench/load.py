"""Load figures: many concurrent streaming conversations on 1 and N workers (loopback).

    python -m bench.load [--streams 1000] [--workers 1 4] [--seconds 10] [--write]

Each configuration is a real `uvicorn` server (`bench/_server.py`) with the fake model
and Postgres + Redis (a fresh `chatflow_load` database, a private Redis key prefix); the
load comes from `bench/_loadgen.py` in another process. Measured per configuration:

- `--streams` streaming conversations opened at once (a slow fake model: 20 tokens 0.25 s
  apart, so every stream is still open when the last one opens): time to first event
  p50/p99, errors, and server memory per open stream (RSS of every worker, all streams
  open minus idle), plus a `/metrics` excerpt taken while they are all open;
- throughput: blocking chats/s on echo.yml, 32 keep-alive connections, `--seconds`.

And single-worker SQLite throughput against the bare Starlette floor (the same request
and answer bytes), the ratio that group commit is meant to raise. `--write` puts the
figures in bench/RESULTS.md (between the `load` markers).

Postgres: `CHATFLOW_BENCH_PG` (an admin URL, default the local server's `postgres`
database); Redis: `CHATFLOW_BENCH_REDIS` (default db 15 of the local server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from bench import _server
from bench._stats import Summary
from bench.http import ROOT, echo_answer, fake_env, floor, loadgen, spec
from bench.soak import write_section

PG_ADMIN = os.environ.get("CHATFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("CHATFLOW_BENCH_REDIS", "redis://127.0.0.1:6379/15")
LOAD_DB = "chatflow_load"
EXCERPT = (
    "chatflow_open_streams",
    "chatflow_active_runs",
    'chatflow_http_requests_total{method="POST",route="/v1/chat-messages",status="200"}',
    "chatflow_db_pool_checked_out",
    "chatflow_model_queue_depth",
    'chatflow_node_runs_total{status="succeeded",type="llm"}',
    'chatflow_model_tokens_total{kind="completion"}',
)


async def _reset_database() -> str:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{LOAD_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{LOAD_DB}"')
    finally:
        await conn.close()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{LOAD_DB}"


def _open_streams(url: str, pid: int, count: int) -> dict[str, Any]:
    """Open `count` streams; at the moment all are open, sample memory and /metrics."""
    params = spec(url, "streams", "llm", count=count, hold=1.0, connections=count + 10)
    params["open_timeout"] = 180
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._loadgen", json.dumps(params)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    rss, metrics, last = 0, "", ""
    for line in proc.stdout:
        last = line
        if "all_open" in line:
            rss = _server.rss_kib(pid)
            metrics = httpx.get(f"{url}/metrics", timeout=30).text
    proc.wait(timeout=600)
    if proc.returncode != 0:
        stderr = proc.stderr.read() if proc.stderr is not None else ""
        raise RuntimeError(f"load generator failed: {stderr[-1500:]}")
    result: dict[str, Any] = json.loads(last)
    result["rss_open"] = rss
    result["metrics"] = [line for line in metrics.splitlines() if line.rsplit(" ", 1)[0] in EXCERPT]
    return result


def measure_workers(workers: int, count: int, seconds: float) -> dict[str, Any]:
    database_url = asyncio.run(_reset_database())
    with tempfile.TemporaryDirectory(prefix="chatflow-load-") as data_dir:
        env = {
            **fake_env(data_dir, delay=0.25, database_url=database_url),
            "CHATFLOW_REDIS_URL": REDIS,
            "CHATFLOW_REDIS_PREFIX": f"load-{uuid.uuid4().hex[:8]}",
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="chatflow-load-metrics-"),
            "CHATFLOW_LOG_LEVEL": "warning",
            # All the streams are one app's, on one key: lift the caps on concurrent runs.
            "CHATFLOW_MAX_ACTIVE_RUNS_PER_APP": "0",
            "CHATFLOW_MAX_ACTIVE_RUNS_PER_KEY": "0",
        }
        with _server.start("ours", env=env, workers=workers, timeout=300) as (url, pid):
            loadgen(spec(url, "ttfe", "llm", requests=5))  # warm-up, every worker
            idle = _server.rss_kib(pid)
            streams = _open_streams(url, pid, count)
        opened = Summary.of(streams["first"])
        print(
            f"{workers} worker(s), {count} streams: first event p50 {opened.p50:.2f} s, "
            f"p99 {opened.p99:.2f} s, {streams['error_count']} errors",
            file=sys.stderr,
            flush=True,
        )
        env["CHATFLOW_FAKE_TOKEN_DELAY"] = "0"
        with _server.start("ours", env=env, workers=workers, timeout=300) as (url, _):
            loadgen(spec(url, "throughput", seconds=1, concurrency=4))
            rate = loadgen(spec(url, "throughput", seconds=seconds, concurrency=32))
    first = Summary.of(streams["first"])
    return {
        "workers": workers,
        "count": count,
        "first_p50_ms": first.p50 * 1e3,
        "first_p99_ms": first.p99 * 1e3,
        "errors": streams["error_count"],
        "error_samples": streams["errors"][:5],
        "kib_per_stream": (streams["rss_open"] - idle) / count,
        "idle_mib": idle / 1024,
        "open_mib": streams["rss_open"] / 1024,
        "throughput": rate["ok"] / rate["elapsed"],
        "throughput_errors": rate["errors"],
        "metrics": streams["metrics"],
    }


def _throughput(url: str, seconds: float) -> float:
    """Blocking echo.yml chats per second over 32 keep-alive connections, after a warm-up."""
    loadgen(spec(url, "throughput", seconds=1, concurrency=4))
    result = loadgen(spec(url, "throughput", seconds=seconds, concurrency=32))
    if result["errors"] or not result["ok"]:
        raise RuntimeError(f"{result['errors']} errors: {result['last'][:300]}")
    return float(result["ok"] / result["elapsed"])


def sqlite_ratio(seconds: float) -> dict[str, float]:
    """Single-worker SQLite throughput (blocking echo.yml) against the floor, and that of
    `bench.essentials` (the work alone, no design around it) for scale."""
    with tempfile.TemporaryDirectory(prefix="chatflow-load-") as data_dir:
        with _server.start("ours", env=fake_env(data_dir)) as (url, _):
            answer = echo_answer(url)
            ours = _throughput(url, seconds)
    with tempfile.TemporaryDirectory(prefix="chatflow-load-") as data_dir:
        with _server.start("essentials", env=fake_env(data_dir)) as (url, _):
            essentials = _throughput(url, seconds)
    with floor(answer) as (url, _):
        base = _throughput(url, seconds)
    return {
        "ours": ours,
        "floor": base,
        "ratio": ours / base,
        "essentials": essentials,
        "essentials_ratio": essentials / base,
    }


def report(runs: list[dict[str, Any]], sqlite: dict[str, float] | None) -> str:
    lines = [
        "| workers (Postgres + Redis) | streams | first event p50 | p99 | errors | "
        "memory per open stream | RSS idle -> all open | blocking chats/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        lines.append(
            f"| {run['workers']} | {run['count']} | {run['first_p50_ms']:.0f} ms | "
            f"{run['first_p99_ms']:.0f} ms | {run['errors']} | {run['kib_per_stream']:.0f} KiB | "
            f"{run['idle_mib']:.0f} -> {run['open_mib']:.0f} MiB | {run['throughput']:.0f} "
            f"({run['throughput_errors']} errors) |"
        )
    if sqlite is not None:
        lines += [
            "",
            f"Single worker, SQLite, blocking echo.yml: {sqlite['ours']:.0f} msg/s against the "
            f"bare Starlette floor's {sqlite['floor']:.0f} msg/s = {sqlite['ratio']:.2f}x "
            "(target >= 0.25x; with group commit of concurrent turns' writes). The work "
            "alone, served bare (`bench/essentials.py`: body, key, our engine's run, the "
            f"turn's rows, the answer): {sqlite['essentials']:.0f} msg/s = "
            f"{sqlite['essentials_ratio']:.2f}x.",
        ]
    for run in runs:
        lines += [
            "",
            f"`/metrics` with {run['count']} streams open, {run['workers']} worker(s) "
            "(summed over every worker):",
            "",
            "```",
            *run["metrics"],
            "```",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    # The ratio first, on a quiet machine: right after the Postgres runs it read 0.11x where
    # the same measure a minute later read 0.175x (Postgres still writing out their load).
    sqlite = None if args.no_sqlite else sqlite_ratio(args.seconds)
    if sqlite is not None:
        print(json.dumps({"sqlite": sqlite}), flush=True)
    runs: list[dict[str, Any]] = []
    for workers in args.workers:
        runs.append(measure_workers(workers, args.streams, args.seconds))
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "metrics"}), flush=True)
    text = provenance(sys.argv[1:]) + "\n\n" + report(runs, sqlite)
    print(text)
    if args.write:
        write_section("load", "## Load (bench/load.py)\n\n" + text)


def provenance(argv: list[str]) -> str:
    """When, on what and how the figures were measured: they mean little without it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    # Changes to the code measured, not to the results file this writes.
    if git("status", "--porcelain", "--", ".", ":!bench/RESULTS.md").strip():
        commit += " with uncommitted changes"
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python -m bench.load", *argv])
    return (
        f"Measured {when} (commit {commit}, load average {load} at the end, "
        f"{os.cpu_count()} CPUs) with `{command}`: fake model (streams: 20 tokens 0.25 s "
        "apart), Postgres + Redis on loopback, the per-app and per-key caps on concurrent "
        "runs lifted (every stream is one app's, on one key)."
    )


if __name__ == "__main__":
    main()
