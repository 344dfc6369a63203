"""Keep-alive connections behind a busy server loop: how each event loop treats them.

    python -m bench.keepalive_resets [--loop uvloop asyncio] [--http httptools]
        [--connections 200] [--rounds 5] [--pause 1.0] [--block-ms 20] [--seconds 120]

A bare uvicorn server (a two-byte answer, `timeout_keep_alive` 65 s as `chatflow serve`
has it) runs in a subprocess on loopback while a task on its loop blocks it for
`--block-ms` at a time, back to back, as a busy server's request handling does. One
client process opens `--connections` keep-alive connections at once (raw sockets, one
request each), then, `--rounds` times, waits `--pause` seconds and sends the next request
on every connection. Each request's outcome is counted per phase (`first`: a new
connection; `reuse`: an idle one): answered, reset by the server, closed by the server
(EOF), or unanswered after `--timeout` seconds; with its latency. The kernel's TCP
counters (`nstat`: resets sent, aborts, listen-queue overflows) are shown as deltas over
each run; they count the whole machine, so other traffic adds to them.

What it shows (bench/RESULTS.md): reused connections are answered on both loops, with no
reset; new ones wait one loop pass each on uvloop (libuv accepts one connection per pass),
which is why the server runs on asyncio (chatflow/api/connections.py).

Bounded: every run stops after `--seconds` at most. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench._server import HOST, free_port

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
KEEP_ALIVE_SECONDS = 65
NSTAT_FIELDS = (
    "TcpOutRsts",
    "TcpExtTCPAbortOnData",
    "TcpExtTCPAbortOnClose",
    "TcpExtListenOverflows",
    "TcpExtListenDrops",
)


def serve(port: int, loop: str, http: str, block_ms: float) -> None:
    """The server process: uvicorn with a loop kept busy by `block_ms` stretches."""
    import uvicorn

    async def keep_busy() -> None:
        while True:
            await asyncio.sleep(0)  # one pass of the loop between stretches
            time.sleep(block_ms / 1000)  # noqa: ASYNC251 - the busy stretch is the point

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                if block_ms:
                    busy.add(asyncio.get_running_loop().create_task(keep_busy()))
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    busy: set[asyncio.Task[None]] = set()
    uvicorn.run(
        app,
        host=HOST,
        port=port,
        loop=loop,
        http=http,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@dataclass
class Phase:
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def text(self) -> str:
        ordered = sorted(self.latencies)
        p50 = ordered[len(ordered) // 2] if ordered else 0.0
        worst = ordered[-1] if ordered else 0.0
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return f"{counts} (answered: p50 {p50 * 1000:.0f} ms, max {worst * 1000:.0f} ms)"


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, within: float, phase: Phase
) -> bool:
    """One request on the connection; True if it was answered."""
    started = time.monotonic()
    try:
        writer.write(REQUEST)
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)
        await asyncio.wait_for(reader.readexactly(2), within)
    except ConnectionResetError:
        phase.outcomes["reset"] += 1
    except (asyncio.IncompleteReadError, BrokenPipeError):
        phase.outcomes["closed"] += 1
    except TimeoutError:
        phase.outcomes["timeout"] += 1
    else:
        phase.outcomes["answered"] += 1
        phase.latencies.append(time.monotonic() - started)
        return True
    writer.close()
    return False


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open(port: int, within: float, phase: Phase) -> Connection | None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), within)
    except (OSError, TimeoutError):
        phase.outcomes["connect failed"] += 1
        return None
    return (reader, writer) if await _exchange(reader, writer, within, phase) else None


async def drive(
    port: int, connections: int, rounds: int, pause: float, within: float
) -> dict[str, Phase]:
    phases = {"first": Phase(), "reuse": Phase()}
    opened = await asyncio.gather(
        *(_open(port, within, phases["first"]) for _ in range(connections))
    )
    alive = [conn for conn in opened if conn is not None]
    for _ in range(rounds):
        await asyncio.sleep(pause)
        answered = await asyncio.gather(
            *(_exchange(reader, writer, within, phases["reuse"]) for reader, writer in alive)
        )
        alive = [conn for conn, ok in zip(alive, answered, strict=True) if ok]
    for _, writer in alive:
        writer.close()
    return phases


def nstat() -> dict[str, int]:
    """The kernel's TCP counters (absolute values), or {} where nstat is missing."""
    if shutil.which("nstat") is None:
        return {}
    text = subprocess.run(
        ["nstat", "-az", *NSTAT_FIELDS], capture_output=True, text=True, check=False
    ).stdout
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in NSTAT_FIELDS:
            values[parts[0]] = int(parts[1])
    return values


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start") from None
            time.sleep(0.1)


def run_one(loop: str, http: str, args: argparse.Namespace) -> str:
    port = free_port()
    command = [sys.executable, "-m", "bench.keepalive_resets", "serve", str(port)]
    proc = subprocess.Popen([*command, loop, http, str(args.block_ms)], env=os.environ.copy())
    try:
        wait_listening(port, proc, 60)
        before = nstat()
        phases = asyncio.run(
            asyncio.wait_for(
                drive(port, args.connections, args.rounds, args.pause, args.timeout),
                args.seconds,
            )
        )
        after = nstat()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    counters = " ".join(f"{k}+{after[k] - before.get(k, 0)}" for k in after)
    return "\n".join(
        [
            f"loop={loop} http={http} block={args.block_ms:g} ms",
            f"  first: {phases['first'].text()}",
            f"  reuse: {phases['reuse'].text()}",
            f"  nstat: {counters or 'n/a'}",
        ]
    )


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        port, loop, http, block_ms = sys.argv[2:6]
        serve(int(port), loop, http, float(block_ms))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop", nargs="+", default=["uvloop", "asyncio"])
    parser.add_argument("--http", nargs="+", default=["httptools"])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--block-ms", type=float, default=20)
    parser.add_argument("--timeout", type=float, default=5.0, help="per request (s)")
    parser.add_argument("--seconds", type=float, default=120, help="per run (s)")
    args = parser.parse_args()
    for http in args.http:
        for loop in args.loop:
            print(run_one(loop, http, args), flush=True)


if __name__ == "__main__":
    main()
