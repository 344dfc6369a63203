"""Server CPU per blocking chat: A/B of checkouts, alternated, medians.

Throughput on a shared 2-core machine moves with whatever else runs; the CPU time the
server process itself spends per request moves much less. Each round starts one checkout's
bench server (`python -m bench._server ours`: SQLite, one worker, the fake model, a fresh
data directory) from that checkout, drives blocking `echo.yml` chats with 32 keep-alive
connections for `--seconds`, and reads the server's user + system CPU from /proc before
and after. Checkouts take turns, round after round, so drift hits them alike.

With `--floor`, each round also measures the bare Starlette floor (`bench._server
floor`, answering the bytes our server answered) the same way, and the table adds each
checkout's CPU per request over the floor's. `bench.load`'s throughput ratio (target
>= 0.25x) is the inverse of that when both servers are CPU-bound, so the target reads
as a budget: at most 4x the floor's CPU per request.

With `--essentials`, each round also measures `bench.essentials` (from this checkout): a
bare server doing only the work a blocking chat cannot do without (parse, key, our
engine's run, the turn's rows in one transaction per loop pass, the answer). Ours minus
it is what our design adds around that work.

Usage: python -m bench.server_cpu CHECKOUT [CHECKOUT ...] [--rounds 3] [--seconds 8]
       [--floor] [--essentials]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from bench import _server
from bench.http import echo_answer, fake_env, floor, loadgen, spec


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drive(name: str, url: str, pid: int, seconds: float) -> tuple[float, float]:
    """Warm up, then 32 keep-alive connections of blocking chats for `seconds`:
    (server CPU µs per request, requests per second)."""
    loadgen(spec(url, "throughput", seconds=1, concurrency=4))
    before = _cpu_seconds(pid)
    result = loadgen(spec(url, "throughput", seconds=seconds, concurrency=32))
    used = _cpu_seconds(pid) - before
    if result["errors"] or not result["ok"]:
        raise RuntimeError(f"{name}: {result['errors']} errors: {result['last'][:300]}")
    return used / result["ok"] * 1e6, result["ok"] / result["elapsed"]


def measure(checkout: Path, seconds: float) -> tuple[float, float, bytes]:
    """(server CPU µs per request, requests per second, the answer's bytes) of one run
    of `checkout`."""
    with tempfile.TemporaryDirectory(prefix="chatflow-cpu-") as data_dir:
        env = {**fake_env(data_dir), "PYTHONPATH": f"{checkout}{os.pathsep}{checkout / 'sdk'}"}
        with _server.start("ours", env=env, root=checkout, timeout=120) as (url, pid):
            answer = echo_answer(url)
            used, rate = _drive(str(checkout), url, pid, seconds)
    return used, rate, answer


def measure_essentials(seconds: float) -> tuple[float, float]:
    """(server CPU µs per request, requests per second) of `bench.essentials`."""
    with tempfile.TemporaryDirectory(prefix="chatflow-cpu-") as data_dir:
        with _server.start("essentials", env=fake_env(data_dir), timeout=120) as (url, pid):
            return _drive("essentials", url, pid, seconds)


def measure_floor(answer: bytes, seconds: float) -> tuple[float, float]:
    """(server CPU µs per request, requests per second) of the floor answering `answer`."""
    with floor(answer) as (url, pid):
        return _drive("floor", url, pid, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", type=Path, nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--floor", action="store_true", help="measure the floor each round")
    parser.add_argument(
        "--essentials", action="store_true", help="measure bench.essentials each round"
    )
    args = parser.parse_args()
    checkouts = [path.resolve() for path in args.checkouts]
    cpu: dict[Path, list[float]] = {path: [] for path in checkouts}
    rate: dict[Path, list[float]] = {path: [] for path in checkouts}
    floor_cpu: list[float] = []
    floor_rate: list[float] = []
    essential_cpu: list[float] = []
    essential_rate: list[float] = []
    for _ in range(args.rounds):
        answer = b""
        for path in checkouts:
            used, per_second, answer = measure(path, args.seconds)
            cpu[path].append(used)
            rate[path].append(per_second)
        if args.essentials:
            used, per_second = measure_essentials(args.seconds)
            essential_cpu.append(used)
            essential_rate.append(per_second)
        if args.floor:
            used, per_second = measure_floor(answer, args.seconds)
            floor_cpu.append(used)
            floor_rate.append(per_second)
    first = statistics.median(cpu[checkouts[0]])
    base = statistics.median(floor_cpu) if floor_cpu else None
    print(f"rounds: {args.rounds} x {args.seconds:g} s; blocking echo.yml, SQLite, one worker")
    print(
        "| checkout | server CPU per request (median) | rounds | msg/s (median) | vs first |"
        + (" vs floor |" if base else "")
    )
    print("|---|---:|---|---:|---:|" + ("---:|" if base else ""))
    for path in checkouts:
        median = statistics.median(cpu[path])
        rounds = ", ".join(f"{value:.0f}" for value in cpu[path])
        print(
            f"| {path} | {median:.0f} µs | {rounds} | {statistics.median(rate[path]):.0f} | "
            f"{median / first:.2f}x |" + (f" {median / base:.1f}x |" if base else "")
        )
    if essential_cpu:
        median = statistics.median(essential_cpu)
        rounds = ", ".join(f"{value:.0f}" for value in essential_cpu)
        print(
            f"| essentials (bench.essentials) | {median:.0f} µs | {rounds} | "
            f"{statistics.median(essential_rate):.0f} | {median / first:.2f}x |"
            + (f" {median / base:.1f}x |" if base else "")
        )
    if base:
        rounds = ", ".join(f"{value:.0f}" for value in floor_cpu)
        print(
            f"| floor (bare Starlette) | {base:.0f} µs | {rounds} | "
            f"{statistics.median(floor_rate):.0f} | | 1.0x |"
        )
        print(f"0.25x of the floor's throughput: at most {4 * base:.0f} µs per request.")


if __name__ == "__main__":
    main()
