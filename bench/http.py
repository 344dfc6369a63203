"""HTTP benchmarks: our server on loopback against a bare Starlette floor, same run.

Each server is a real uvicorn process (`bench/_server.py`) with the fake model
(`CHATFLOW_MODEL_BACKEND=fake`, a 20-token reply) and a fresh database; the load comes
from `bench/_loadgen.py` in another process. Measured:

- request overhead: blocking chat on echo.yml and llm.yml vs the floor answering the
  same JSON (target: p50 <= 3x the floor and < 3 ms);
- time to first event, streaming llm.yml (target p50 < 5 ms), vs the floor's stream;
- throughput (msg/s, blocking echo.yml (target >= 500 msg/s on one worker with SQLite)
  and llm.yml, 32 keep-alive connections of a lean client) on 1 and 2 workers, SQLite
  and Postgres, vs the floor on 1 worker;
- N concurrent open streams with a slow fake model: memory per stream (target < 100 KB),
  errors (target 0) and p99 first-event latency, vs the floor holding as many streams;
- stop latency: stop request -> end of stream (target p99 < 100 ms), vs the time the
  stream had left.

Usage: python -m bench.http [--quick] [--streams N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import _server
from bench._stats import Row, Section, Summary

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_BENCH_DB = "chatflow_bench"
TOKENS = " ".join(f"t{i}" for i in range(20))


def loadgen(spec: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench._loadgen", json.dumps(spec)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def fake_env(
    data_dir: str, *, delay: float = 0.0, database_url: str | None = None
) -> dict[str, str]:
    env = {
        "CHATFLOW_MODEL_BACKEND": "fake",
        "CHATFLOW_DATA_DIR": data_dir,
        "CHATFLOW_FAKE_TOKENS": TOKENS,
        "CHATFLOW_FAKE_TOKEN_DELAY": str(delay),
        "DATABASE_URL": database_url or "",
    }
    return env


@contextlib.contextmanager
def ours(
    delay: float = 0.0, *, workers: int = 1, database_url: str | None = None
) -> Iterator[tuple[str, int]]:
    with tempfile.TemporaryDirectory(prefix="chatflow-bench-") as data_dir:
        env = fake_env(data_dir, delay=delay, database_url=database_url)
        with _server.start("ours", env=env, workers=workers) as started:
            yield started


def echo_answer(url: str) -> bytes:
    """The bytes our server at `url` answers a blocking echo.yml chat: what the floor
    answers in its place."""
    import httpx

    body = {"inputs": {}, "query": "hello?", "user": "u", "response_mode": "blocking"}
    headers = {"Authorization": f"Bearer {_server.api_key('echo')}"}
    return httpx.post(f"{url}/v1/chat-messages", json=body, headers=headers).content


@contextlib.contextmanager
def floor(body: bytes, delay: float = 0.0) -> Iterator[tuple[str, int]]:
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        with _server.start("floor", body=Path(file.name), delay=delay) as started:
            yield started


def spec(url: str, scenario: str, app: str = "echo", **params: Any) -> dict[str, Any]:
    return {
        "url": url,
        "scenario": scenario,
        "key": _server.api_key(app),
        "query": "hello?",
        **params,
    }


# Latency runs alternate between our server and the floor in this many rounds, both
# servers up at once, so a slow spell of the machine hits both sides alike.
ROUNDS = 4


def overhead(section: Section, requests: int) -> bytes:
    """Blocking request overhead on echo and llm; returns llm's body for the floor."""
    seconds: dict[str, list[float]] = {"echo": [], "llm": [], "floor": []}
    with ours() as (url, _):
        first = {app: loadgen(spec(url, "latency", app, requests=20)) for app in ("echo", "llm")}
        body: bytes = str(first["llm"]["last"]).encode()
        with floor(body) as (floor_url, _):
            loadgen(spec(floor_url, "latency", requests=20))
            for _ in range(ROUNDS):
                for name in ("echo", "llm", "floor"):
                    target = floor_url if name == "floor" else url
                    app = "echo" if name == "floor" else name
                    result = loadgen(spec(target, "latency", app, requests=requests // ROUNDS))
                    seconds[name] += result["seconds"]
                    if result["errors"]:
                        section.notes.append(
                            f"{name}: {result['errors']} failed requests: {result['last'][:200]}"
                        )
    floor_s = Summary.of(seconds["floor"])
    for app in ("echo", "llm"):
        mine = Summary.of(seconds[app])
        p50 = mine.p50 * 1e3
        section.rows.append(
            Row(
                f"blocking {app}.yml p50",
                "ms",
                p50,
                floor_s.p50 * 1e3,
                "bare Starlette",
                target="<= 3x floor and < 3 ms",
                met=p50 < 3 and mine.p50 <= 3 * floor_s.p50,
            )
        )
        section.rows.append(
            Row(
                f"blocking {app}.yml p99", "ms", mine.p99 * 1e3, floor_s.p99 * 1e3, "bare Starlette"
            )
        )
    return body


def first_event(section: Section, body: bytes, requests: int) -> None:
    found: dict[str, dict[str, list[float]]] = {
        side: {"first": [], "first_message": []} for side in ("ours", "floor")
    }
    errors = 0
    with ours() as (url, _), floor(body) as (floor_url, _):
        loadgen(spec(url, "ttfe", "llm", requests=10))
        loadgen(spec(floor_url, "ttfe", requests=10))
        for _ in range(ROUNDS):
            for side, target in (("ours", url), ("floor", floor_url)):
                result = loadgen(spec(target, "ttfe", "llm", requests=requests // ROUNDS))
                for key in ("first", "first_message"):
                    found[side][key] += result[key]
                if side == "ours":
                    errors += result["errors"]
    first, base_first = Summary.of(found["ours"]["first"]), Summary.of(found["floor"]["first"])
    section.rows.append(
        Row(
            "streaming llm.yml: first event p50",
            "ms",
            first.p50 * 1e3,
            base_first.p50 * 1e3,
            "bare Starlette stream",
            target="< 5 ms",
            met=first.p50 * 1e3 < 5,
        )
    )
    section.rows.append(
        Row(
            "streaming llm.yml: first message p50",
            "ms",
            Summary.of(found["ours"]["first_message"]).p50 * 1e3,
            Summary.of(found["floor"]["first_message"]).p50 * 1e3,
            "bare Starlette stream",
        )
    )
    if errors:
        section.notes.append(f"time to first event: {errors} failed streams")


async def _reset_postgres() -> str | None:
    """A fresh `chatflow_bench` database (not the tests' `test`); None if unreachable."""
    try:
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, ImportError, Exception) as exc:
        return f"Postgres not reachable ({type(exc).__name__})"
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    finally:
        await conn.close()
    return None


def throughput(section: Section, body: bytes, seconds: float, concurrency: int) -> None:
    """Messages/s with `concurrency` keep-alive connections (the lean client of
    `bench/_rawload.py`): echo.yml (the target) on SQLite and Postgres, 1 and 2 workers,
    and llm.yml on SQLite; against the floor on 1 worker."""
    params: dict[str, Any] = {"seconds": seconds, "concurrency": concurrency}
    with floor(body) as (url, _):
        loadgen(spec(url, "throughput", seconds=1, concurrency=4))  # warm-up
        base = loadgen(spec(url, "throughput", **params))
    base_rate = base["ok"] / base["elapsed"]
    pg_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_BENCH_DB}"
    pg_error = asyncio.run(_reset_postgres())
    runs = [
        ("echo", "SQLite", 1),
        ("echo", "SQLite", 2),
        ("llm", "SQLite", 1),
        ("echo", "Postgres", 1),
        ("echo", "Postgres", 2),
    ]
    for app, database, workers in runs:
        if database == "Postgres":
            if pg_error:
                section.notes.append(f"throughput on Postgres not measured: {pg_error}")
                continue
            asyncio.run(_reset_postgres())
        database_url = pg_url if database == "Postgres" else None
        with ours(workers=workers, database_url=database_url) as (url, _):
            loadgen(spec(url, "throughput", app, seconds=1, concurrency=4))  # warm-up
            result = loadgen(spec(url, "throughput", app, **params))
        rate = result["ok"] / result["elapsed"]
        target = app == "echo" and database == "SQLite" and workers == 1
        section.rows.append(
            Row(
                f"throughput {app}.yml, {database}, {workers} worker(s)",
                "msg/s",
                rate,
                base_rate,
                "bare Starlette, 1 worker",
                target=">= 500 msg/s" if target else "",
                met=rate >= 500 if target else None,
                note=f"{result['errors']} errors",
            )
        )
        if result["errors"]:
            section.notes.append(
                f"throughput {app} {database} x{workers}: {result['errors']} failed requests"
            )


def _streams_run(
    url: str, pid: int, count: int, hold: float, app: str
) -> tuple[dict[str, Any], int]:
    """Open `count` streams; sample the server's memory once all are open."""
    params = spec(
        url, "streams", app, count=count, hold=hold, connections=count + 10, open_timeout=90
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._loadgen", json.dumps(params)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    rss_open = 0
    last = ""
    for line in proc.stdout:
        last = line
        if "all_open" in line:
            rss_open = _server.rss_kib(pid)
    proc.wait(timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(
            f"load generator failed: {proc.stderr.read()[-1500:] if proc.stderr else ''}"
        )
    return json.loads(last), rss_open


def open_streams(section: Section, body: bytes, count: int) -> None:
    # Slow model: 20 tokens 1 s apart, so every stream is still open when the last opens.
    delay, hold = 1.0, 1.0
    with ours(delay) as (url, pid):
        loadgen(spec(url, "ttfe", "echo", requests=5))
        idle = _server.rss_kib(pid)
        mine, mine_open = _streams_run(url, pid, count, hold, "llm")
    with floor(body, delay) as (url, pid):
        loadgen(spec(url, "ttfe", requests=5))
        base_idle = _server.rss_kib(pid)
        base, base_open = _streams_run(url, pid, count, hold, "echo")
    per_stream = (mine_open - idle) / count if mine_open else float("nan")
    base_per_stream = (base_open - base_idle) / count if base_open else float("nan")
    section.rows.append(
        Row(
            f"{count} open streams: memory per stream",
            "KiB",
            per_stream,
            base_per_stream,
            "bare Starlette stream",
            target="< 100 KB",
            met=per_stream * 1024 < 100_000,
        )
    )
    section.rows.append(
        Row(
            f"{count} open streams: first event p99",
            "ms",
            Summary.of(mine["first"]).p99 * 1e3,
            Summary.of(base["first"]).p99 * 1e3,
            "bare Starlette stream",
        )
    )
    section.rows.append(
        Row(
            f"{count} open streams: errors",
            "",
            mine["error_count"],
            base["error_count"],
            "bare Starlette stream",
            target="0",
            met=mine["error_count"] == 0,
        )
    )
    if mine["errors"]:
        section.notes.append(f"open streams: errors {mine['errors'][:5]}")
    section.notes.append(
        f"Open streams: server RSS idle {idle / 1024:.0f} MiB, with {count} streams "
        f"{mine_open / 1024:.0f} MiB (floor: {base_idle / 1024:.0f} -> {base_open / 1024:.0f} MiB)."
    )


def stop_latency(section: Section, requests: int) -> None:
    delay = 0.05  # 20 tokens: a one-second stream, stopped after its first token
    with ours(delay) as (url, _):
        full = loadgen(spec(url, "tokens", "llm"))
        result = loadgen(spec(url, "stop", "llm", requests=requests))
    remaining = full["total"] - (full["times"][0] if full["times"] else 0.0)
    stops = Summary.of(result["seconds"])
    section.rows.append(
        Row(
            "stop -> stream end p99",
            "ms",
            stops.p99 * 1e3,
            remaining * 1e3,
            "time the stream had left",
            target="< 100 ms",
            met=stops.p99 * 1e3 < 100,
        )
    )
    section.rows.append(
        Row(
            "stop -> stream end p50",
            "ms",
            stops.p50 * 1e3,
            remaining * 1e3,
            "time the stream had left",
        )
    )
    if result["errors"]:
        section.notes.append(f"stop: {result['errors']} runs could not be stopped cleanly")


def measure(*, quick: bool = False, streams: int = 2000) -> Section:
    section = Section("http", "HTTP API on loopback (uvicorn, fake model)")
    requests = 100 if quick else 400
    body = overhead(section, requests)
    first_event(section, body, 50 if quick else 200)
    throughput(section, body, seconds=2 if quick else 4, concurrency=32)
    open_streams(section, body, min(streams, 200) if quick else streams)
    stop_latency(section, 10 if quick else 40)
    section.notes.append(
        "Load comes from one client process on uvloop: httpx for latency, first event, "
        "streams and stop (the client the SDKs use), the lean keep-alive client of "
        "`bench/_rawload.py` for throughput. On a 2-core machine it shares the CPU with the "
        "server, so client cost is inside every figure, ours and the floor's."
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP benchmarks against a loopback server.")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--streams", type=int, default=2000)
    args = parser.parse_args()
    from bench.engine import print_section

    print_section(measure(quick=args.quick, streams=args.streams))


if __name__ == "__main__":
    main()
