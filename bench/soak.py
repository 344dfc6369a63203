"""Soak: sustained mixed load on one server, memory sampled throughout (loopback only).

    python -m bench.soak [--seconds 1800] [--clients 16] [--write]

One real server process (`bench/_server.py`: uvicorn, SQLite, the fake model streaming
20 tokens `--token-delay` apart) and `--clients` concurrent clients, each looping over a
mix of what a chat front-end does: streaming and blocking chats (half of them continuing a
conversation), a streaming chat stopped after its first token, a file upload, and the
conversation and message listings. Bounded: it stops by itself after `--seconds`.

Reported: requests and errors by kind, tracebacks in the server's log, the chat runs by
how they ended (the server's `/metrics`: the stops must have stopped some), and the server's
resident memory at the end of warm-up (the first 20% of the run), at the end, and its
peak after warm-up. `--write` puts the figures in bench/RESULTS.md (between the `soak`
markers). `tests/test_soak.py` runs a short version in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import _server
from bench.http import fake_env

RESULTS = Path(__file__).with_name("RESULTS.md")
KINDS = ("stream", "blocking", "stop", "upload", "conversations", "messages")
WEIGHTS = (35, 25, 10, 10, 10, 10)
# Seconds between the fake model's tokens: a 20-token answer streams for ~40 ms, so the
# stop a `stop` client sends at the first token reaches a run that is still going. With
# no delay the whole answer was out before the stop arrived, and on a fast machine no
# run was ever stopped.
TOKEN_DELAY = 0.002


@dataclass
class Outcome:
    seconds: float
    clients: int
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (elapsed s, MiB)
    tracebacks: int = 0
    metrics: dict[str, float] = field(default_factory=dict)  # /metrics at the end

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def runs(self, status: str) -> int:
        """Chat runs that ended `status`, by the server's own count (`/metrics`)."""
        return int(
            self.metrics.get(f'chatflow_runs_total{{mode="advanced-chat",status="{status}"}}', 0)
        )

    def memory(self) -> tuple[float, float, float]:
        """RSS (MiB) at the end of warm-up, at the end, and its peak after warm-up."""
        warm = [mib for at, mib in self.rss_mib if at >= 0.2 * self.seconds]
        if not warm:
            warm = [mib for _, mib in self.rss_mib]
        return warm[0], warm[-1], max(warm)


def _chat(query: str, user: str, mode: str, conversation: str = "") -> dict[str, Any]:
    return {
        "inputs": {},
        "query": query,
        "user": user,
        "response_mode": mode,
        "conversation_id": conversation,
    }


async def _client(client: httpx.AsyncClient, index: int, deadline: float, outcome: Outcome) -> None:
    rng = random.Random(index)
    user = f"soak-{index}"
    conversation = ""
    turns = 0

    def record(kind: str, ok: bool, detail: str = "") -> None:
        outcome.requests[kind] = outcome.requests.get(kind, 0) + 1
        if not ok:
            outcome.errors[kind] = outcome.errors.get(kind, 0) + 1
            if len(outcome.error_samples) < 20:
                outcome.error_samples.append(f"{kind}: {detail[:200]}")

    while time.monotonic() < deadline:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        try:
            if kind in ("stream", "stop"):
                body = _chat("hello?", user, "streaming", conversation)
                async with client.stream("POST", "/v1/chat-messages", json=body) as response:
                    ok, ended, task_id, stopped = response.status_code == 200, False, "", False
                    async for line in response.aiter_lines():
                        if not line.startswith("data: "):
                            continue
                        frame = json.loads(line[6:])
                        conversation = frame.get("conversation_id") or conversation
                        task_id = frame.get("task_id") or task_id
                        if kind == "stop" and not stopped and frame.get("event") == "message":
                            # Once: `task_id` comes back with every frame, so a flag (not
                            # clearing it) keeps this to one stop per stream.
                            stopped = True
                            stop = await client.post(
                                f"/v1/chat-messages/{task_id}/stop", json={"user": user}
                            )
                            ok = ok and stop.status_code == 200
                        if frame.get("event") == "error":
                            ok = False
                        ended = ended or frame.get("event") in ("message_end", "workflow_finished")
                    record(kind, ok and ended, f"status {response.status_code}")
            elif kind == "blocking":
                response = await client.post(
                    "/v1/chat-messages", json=_chat("hello?", user, "blocking", conversation)
                )
                ok = response.status_code == 200
                if ok:
                    conversation = response.json()["conversation_id"]
                record(kind, ok, response.text)
            elif kind == "upload":
                files = {"file": (f"note-{turns}.txt", b"soak test file\n" * 20, "text/plain")}
                response = await client.post("/v1/files/upload", files=files, data={"user": user})
                record(kind, response.status_code == 201, response.text)
            elif kind == "conversations":
                response = await client.get("/v1/conversations", params={"user": user})
                record(kind, response.status_code == 200, response.text)
            elif conversation:
                response = await client.get(
                    "/v1/messages", params={"user": user, "conversation_id": conversation}
                )
                record(kind, response.status_code == 200, response.text)
        except httpx.HTTPError as exc:
            record(kind, False, repr(exc))
        turns += 1
        if turns % 20 == 0 or rng.random() < 0.5:
            conversation = ""  # a new conversation now and then: histories stay short


async def _sample(pid: int, started: float, deadline: float, outcome: Outcome) -> None:
    while time.monotonic() < deadline:
        outcome.rss_mib.append((time.monotonic() - started, _server.rss_kib(pid) / 1024))
        await asyncio.sleep(2.0)
    outcome.rss_mib.append((time.monotonic() - started, _server.rss_kib(pid) / 1024))


async def _drive(url: str, pid: int, seconds: float, clients: int) -> Outcome:
    outcome = Outcome(seconds, clients)
    headers = {"Authorization": f"Bearer {_server.api_key('llm')}"}
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout would close
    # them under a request just being sent (a client-side race, not a server error).
    limits = httpx.Limits(
        max_connections=clients * 2, max_keepalive_connections=clients * 2, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=30, limits=limits
    ) as client:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            _sample(pid, started, deadline, outcome),
            *(_client(client, i, deadline, outcome) for i in range(clients)),
        )
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("chatflow_") and " " in line:
            name, value = line.rsplit(" ", 1)
            outcome.metrics[name] = float(value)
    return outcome


def run(
    seconds: float,
    clients: int,
    env: dict[str, str] | None = None,
    *,
    token_delay: float = TOKEN_DELAY,
) -> Outcome:
    """One bounded soak against a fresh server; returns what it saw."""
    with tempfile.TemporaryDirectory(prefix="chatflow-soak-") as data_dir:
        server_env = {
            **fake_env(data_dir, delay=token_delay),
            "CHATFLOW_LOG_FORMAT": "text",
            **(env or {}),
        }
        log_path = Path(data_dir) / "server.log"
        # A generous start: on a shared machine importing the bench apps can take a minute.
        start = _server.start("ours", env=server_env, log_path=log_path, timeout=300)
        with start as (url, pid):
            outcome = asyncio.run(_drive(url, pid, seconds, clients))
        outcome.tracebacks = len(re.findall(r"^Traceback", log_path.read_text(), re.M))
    return outcome


def report(outcome: Outcome, env: dict[str, str]) -> str:
    start, end, peak = outcome.memory()
    minutes = outcome.seconds / 60
    step = max(1, len(outcome.rss_mib) // 30)
    kinds = ", ".join(f"{k} {outcome.requests.get(k, 0)}" for k in KINDS)
    settings = " ".join(f"{k}={v}" for k, v in env.items()) or "defaults"
    return "\n".join(
        [
            f"Soak ({minutes:.0f} min, {outcome.clients} clients, fake model, SQLite, one "
            f"worker, {settings}): {outcome.total} requests ({kinds}), "
            f"{outcome.error_count} errors, {outcome.tracebacks} tracebacks; chat runs "
            f"succeeded {outcome.runs('succeeded')}, stopped {outcome.runs('stopped')}, "
            f"failed {outcome.runs('failed')}.",
            "",
            "| server RSS | MiB |",
            "| --- | --- |",
            f"| start (first sample) | {outcome.rss_mib[0][1]:.0f} |",
            f"| end of warm-up ({0.2 * minutes:.1f} min) | {start:.0f} |",
            f"| end ({minutes:.0f} min) | {end:.0f} |",
            f"| peak after warm-up | {peak:.0f} |",
            "",
            # About 30 of the 2-second samples, evenly spaced.
            f"RSS every {2 * step} s (MiB): "
            + " ".join(f"{mib:.0f}" for _, mib in outcome.rss_mib[::step]),
        ]
    )


def write_section(marker: str, text: str) -> None:
    """Replace the text between `<!-- {marker}:start -->` and `<!-- {marker}:end -->`."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    current = RESULTS.read_text() if RESULTS.exists() else ""
    block = f"{start}\n{text}\n{end}"
    if start in current:
        head, rest = current.split(start, 1)
        current = head + block + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--token-delay", type=float, default=TOKEN_DELAY, help="seconds between fake tokens"
    )
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    env: dict[str, str] = {}
    outcome = run(args.seconds, args.clients, env, token_delay=args.token_delay)
    text = report(outcome, {**env, "CHATFLOW_FAKE_TOKEN_DELAY": str(args.token_delay)})
    print(text)
    if outcome.error_samples:
        print("errors:", *outcome.error_samples, sep="\n  ")
    print("rss_mib:", json.dumps(outcome.rss_mib))
    print("metrics:", json.dumps(outcome.metrics))
    if args.write:
        write_section("soak", "## Soak\n\n" + text)


if __name__ == "__main__":
    main()
